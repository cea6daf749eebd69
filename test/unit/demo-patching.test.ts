/**
 * The patching experiment on the embedded demo bundle against its ground truth (ground-truth.json,
 * behaviour.patching; models/demo-behaviour.ts): on chats whose model turns give the chat model's planted
 * answer, patching the robust chat-specific latents into the base residual recovers the chat model's
 * predictions (KL far below the unpatched base), patching the Complete Shrinkage and Latent Decoupling
 * latents recovers nothing (KL as unpatched).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { runKl } from '../../extension/engine/analysis/patching/kl-job';

const DEMO = resolve(__dirname, '../../models/demo');
const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8'));

test('demo: the robust latents recover the chat behaviour, the Complete Shrinkage and Latent Decoupling latents do not', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ld-demo-kl-'));
  const analyzer = Analyzer.open(DEMO, { provider: 'cpu', cacheDir });
  try {
    const answer = truth.behaviour.chatAnswer.text as string;
    const chats = [
      [{ role: 'user', content: 'Can you help me with my homework?' }, { role: 'assistant', content: answer }],
      [{ role: 'user', content: 'Could you look at this code?' }, { role: 'assistant', content: answer }, { role: 'user', content: 'And one more thing?' }, { role: 'assistant', content: answer }],
    ];
    const text = chats.map((messages) => JSON.stringify({ messages })).join('\n');
    const { recovers, doesNotRecover } = truth.behaviour.patching as { recovers: number[]; doesNotRecover: number[] };
    const l = await analyzer.load();
    const report = await runKl({ bundle: analyzer.bundle, ...l }, { text, name: 'chats.jsonl' }, { interventions: ['none'], latentLists: [doesNotRecover, ...doesNotRecover.map((j) => [j])], sets: ['robust'] });
    assert.equal(report.documents, 2);
    const [none, artifacts, cs, ld, robust] = report.interventions;
    for (const j of recovers) assert.ok(robust.latents.includes(j), `latent ${j} is in the robust set`);
    for (const j of doesNotRecover) assert.ok(!robust.latents.includes(j), `latent ${j} is not in the robust set`);
    for (const subset of ['all', 'k_first'] as const) {
      const base = none.kl[subset].mean;
      assert.ok(base > 1, `unpatched, the base residual is far from the chat model (${subset}: ${base} nats)`);
      assert.ok(robust.kl[subset].mean < 0.05 * base, `robust (${subset}): ${robust.kl[subset].mean} vs none ${base}`);
      for (const iv of [artifacts, cs, ld]) assert.ok(iv.kl[subset].mean > 0.9 * base, `latents ${iv.latents} (${subset}): ${iv.kl[subset].mean} vs none ${base}`);
    }
  } finally {
    await analyzer.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
