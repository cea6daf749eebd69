/** Analyzer behaviour beyond one call: the residual cache must not change results; windows must tile. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { LatentDiffError } from '../../extension/engine/errors';

const DEMO = resolve(__dirname, '../../models/demo');
const open = (contextWindow?: number) => Analyzer.open(DEMO, { provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-an-')), contextWindow });

test('asking for other latents on the same text reuses residuals and gives the same numbers as a fresh run', async () => {
  const text = 'def f(x):\n    return x + 1  # what is 2 + 2?';
  const a = open();
  const b = open();
  try {
    const first = await a.analyze(text, { latents: [1, 2] });
    const again = await a.analyze(text, { latents: [5, 1] });
    const fresh = await b.analyze(text, { latents: [5, 1] });
    assert.deepEqual(again.top, first.top);
    assert.deepEqual(again.selected, fresh.selected);
    assert.deepEqual(again.selected[1].acts, first.selected[0].acts);
    const other = await a.analyze(text + ' more', {});
    assert.equal(other.tokens.length, first.tokens.length + 1);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('windowed analysis: every token analysed, window starts see only a fresh BOS', async () => {
  const text = Array.from({ length: 30 }, (_, i) => `Sentence ${i} is here.`).join(' ');
  const whole = open();
  const windowed = open(16);
  try {
    const r1 = await whole.analyze(text, { latents: [0] });
    const r2 = await windowed.analyze(text, { latents: [0] });
    assert.equal(r2.tokens.length, r1.tokens.length);
    assert.ok(r2.tokens.length > 64);
    assert.ok(r2.top.every((row) => row.length > 0), 'every token of every window was scored');
    // The first window is identical: same tokens, same left context.
    assert.deepEqual(r2.top.slice(0, 16), r1.top.slice(0, 16));
  } finally {
    await whole.dispose();
    await windowed.dispose();
  }
});

test('a 10 MB document gets a clear error naming it instead of exhausting memory', async () => {
  const a = open();
  try {
    const text = 'The answer is 42. '.repeat(600_000);
    assert.ok(text.length > 10_000_000);
    await assert.rejects(a.analyze(text, { docName: '/docs/huge.txt' }), (e: unknown) => e instanceof LatentDiffError && e.code === 'too-large' && e.file === '/docs/huge.txt' && /analyse a selection/.test(e.message));
    const ok = await a.analyze('still works afterwards');
    assert.ok(ok.tokens.length > 1);
  } finally {
    await a.dispose();
  }
});

test('a document over the token limit is refused after tokenising, naming it', async () => {
  const a = Analyzer.open(DEMO, { provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-an-')), maxTokens: 16 });
  try {
    const text = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen';
    assert.ok(text.length <= 16 * 8, 'short enough to be tokenised first');
    await assert.rejects(a.analyze(text, { docName: 'long.txt' }), (e: unknown) => e instanceof LatentDiffError && e.code === 'too-large' && /\d+ tokens/.test(e.message) && e.file === 'long.txt');
    assert.equal((await a.analyze('one two three')).tokens.length, 4);
  } finally {
    await a.dispose();
  }
});

test('per-model contribution norms f_j * ||d_j^m|| add up to the scaled activation and show who writes the latent', async () => {
  const a = open();
  try {
    const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8')) as { latents: Record<string, { role: string; concept: string }> };
    const id = (concept: string, role: string) => Number(Object.entries(truth.latents).find(([, v]) => v.concept === concept && v.role === role)![0]);
    const template = id('template', 'robust-chat-only');
    const digit = id('digit', 'shared');
    const r = await a.analyze('<start_of_turn>user\nWhat is 7?<end_of_turn>\n', { latents: [template, digit], contributions: true });
    for (const s of r.selected) {
      const c = s.contributions!;
      s.acts.forEach((act, t) => assert.ok(Math.abs(c.base[t] + c.chat[t] - act) <= 1e-5 * Math.max(1, act), `s_j = ||d_base|| + ||d_chat||: token ${t}`));
      assert.ok(s.acts.some((x) => x > 0), `latent ${s.latent} fires`);
    }
    const t = r.selected[0].acts.findIndex((x) => x > 0);
    assert.ok(r.selected[0].contributions!.base[t] < 0.05 * r.selected[0].contributions!.chat[t], 'the chat-only latent is written by the chat decoder');
    const u = r.selected[1].acts.findIndex((x) => x > 0);
    assert.ok(Math.abs(r.selected[1].contributions!.base[u] - r.selected[1].contributions!.chat[u]) < 1e-5, 'the shared latent is written equally');
    assert.equal((await a.analyze('x', { latents: [digit] })).selected[0].contributions, undefined);
  } finally {
    await a.dispose();
  }
});
