/**
 * Divergence and logit effects against float64 computations written here, on the tiny random model pair of
 * tiny-split-model.ts: per-token KL(P_chat || P_base) and each model's top next tokens with probabilities
 * (chunked over the caches), and each model's decoder vector of a random crosscoder's latent through the
 * unembedding (direct path d @ W_U^T): the 10 most promoted and suppressed tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { divergence } from '../../extension/engine/analysis/patching/divergence';
import { decoderVectors, logitEffects } from '../../extension/engine/analysis/patching/logit-effects';
import { LatentDiffError } from '../../extension/engine/errors';
import { prng, writeFixture } from './crosscoder-graph-fixture';
import { randomTinyWeights, refFirstHalf, refKl, refSecondHalf, TinySplitModel, type TinyWeights } from './tiny-split-model';

const d = 8;
const VOCAB = 40;

/** Indices of `values` by value, descending (ascending when `low`). */
function order(values: ArrayLike<number>, low = false): number[] {
  return Array.from(values, (_, i) => i).sort((a, b) => (low ? values[a] - values[b] : values[b] - values[a]));
}

test('divergence: per-token KL(P_chat || P_base) and both models\' top next tokens equal the float64 reference', async () => {
  const wBase = randomTinyWeights(21, d, VOCAB);
  const wChat = randomTinyWeights(22, d, VOCAB);
  const base = await TinySplitModel.create('tiny-base', wBase);
  const chat = await TinySplitModel.create('tiny-chat', wChat);
  try {
    const r = prng(9);
    const ids = Array.from({ length: 23 }, (_, t) => (t === 0 ? 2 : Math.floor(r() * 3000)));
    const got = await divergence({ base, chat }, ids, { topK: 4, chunkTokens: 6 });
    const logC = refSecondHalf(wChat, refFirstHalf(wChat, ids));
    const logB = refSecondHalf(wBase, refFirstHalf(wBase, ids));
    const kl = refKl(logC, logB, VOCAB);
    for (let t = 0; t < ids.length; t++) {
      assert.ok(Math.abs(got.kl[t] - kl[t]) <= 1e-4 * kl[t] + 1e-6, `KL at ${t}: ${got.kl[t]} vs ${kl[t]}`);
      for (const [lp, gotIds, gotProbs] of [[logC, got.chatTopIds, got.chatTopProbs], [logB, got.baseTopIds, got.baseTopProbs]] as const) {
        const row = lp.subarray(t * VOCAB, (t + 1) * VOCAB);
        const want = order(row).slice(0, 4);
        assert.deepEqual(Array.from(gotIds.subarray(t * 4, t * 4 + 4)), want, `top ids at ${t}`);
        want.forEach((v, i) => assert.ok(Math.abs(gotProbs[t * 4 + i] - Math.exp(row[v])) < 1e-5, `prob of ${v} at ${t}`));
      }
    }
    assert.ok(kl.some((v) => v > 0.05), 'the two models disagree somewhere');
  } finally {
    await base.dispose();
    await chat.dispose();
  }
});

function refEffects(w: TinyWeights, v: Float32Array): number[] {
  return Array.from({ length: VOCAB }, (_, tok) => {
    let s = 0;
    for (let i = 0; i < d; i++) s += v[i] * w.Wu[i * VOCAB + tok];
    return s;
  });
}

test('logit effects: each model\'s decoder vector through its unembedding, top and bottom 10, both decoder layouts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-logit-'));
  const wBase = randomTinyWeights(31, d, VOCAB);
  const wChat = randomTinyWeights(32, d, VOCAB);
  const base = await TinySplitModel.create('tiny-base', wBase);
  const chat = await TinySplitModel.create('tiny-chat', wChat);
  try {
    for (const layout of ['LDd', 'DLd'] as const) {
      const { ckpt, w } = writeFixture(dir, { d, D: 12, seed: 8, layout });
      const j = 7;
      const v = decoderVectors(ckpt, j);
      assert.deepEqual(Array.from(v.base), Array.from(w.wDec.subarray(j * d, (j + 1) * d), Math.fround));
      assert.deepEqual(Array.from(v.chat), Array.from(w.wDec.subarray((12 + j) * d, (13 + j) * d), Math.fround));
      const got = await logitEffects({ base, chat }, ckpt, j);
      assert.match(got.convention, /direct path/);
      for (const [side, weights, vec] of [['base', wBase, v.base], ['chat', wChat, v.chat]] as const) {
        const want = refEffects(weights, vec);
        assert.deepEqual(got[side].promoted.map((e) => e.id), order(want).slice(0, 10), `${layout} ${side} promoted`);
        assert.deepEqual(got[side].suppressed.map((e) => e.id), order(want, true).slice(0, 10), `${layout} ${side} suppressed`);
        got[side].promoted.forEach((e) => assert.ok(Math.abs(e.logit - want[e.id]) < 1e-5));
      }
      assert.throws(() => decoderVectors(ckpt, 12), (e: unknown) => e instanceof LatentDiffError && e.problem.includes('0..11'));
    }
  } finally {
    await base.dispose();
    await chat.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
