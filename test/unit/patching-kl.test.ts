/**
 * The patching experiment (method.md 9) against an independent float64 implementation written here: random
 * tiny causal base and chat models (real ONNX Runtime graphs ending in the next-token head) and a random
 * crosscoder (ReLU, and BatchTopK with its threshold in a gap of the scaled activations); for every
 * intervention (none, all, chat-error, a latent list) the per-token KL(P_chat || P_patched) and its mean and
 * 95% interval over the all / k_first / post_k_first positions, which this file works out from each chat's
 * turn layout by hand (method.md 8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPatchCrosscoder } from '../../extension/engine/analysis/patching/patch-crosscoder';
import { runPatchingExperiment, type PatchingDocument } from '../../extension/engine/analysis/patching/patching-experiment';
import { scoredPositions } from '../../extension/engine/analysis/patching/positions';
import type { Intervention } from '../../extension/engine/analysis/patching/interventions';
import { computeLatentMetrics } from '../../extension/engine/latents/metrics';
import { LatentDiffError } from '../../extension/engine/errors';
import type { TokenInfo } from '../../extension/engine/types';
import { prng, refGeometry, refScale, relErr, writeFixture, type RefWeights } from './crosscoder-graph-fixture';
import { randomTinyWeights, refFirstHalf, refKl, refSecondHalf, TinySplitModel, type TinyWeights } from './tiny-split-model';

const d = 8;
const D = 24;
const VOCAB = 40;
const MARKERS = { startOfTurn: 106, endOfTurn: 107 };

/** A chat laid out as [role, content tokens] turns, with the positions the paper scores worked out by hand. */
interface LaidOut {
  tokens: TokenInfo[];
  all: Set<number>;
  kFirst: Set<number>;
  postKFirst: Set<number>;
}

function layOut(turns: [string, number][], seed: number): LaidOut {
  const r = prng(seed);
  const tokens: TokenInfo[] = [];
  const push = (id: number, text: string, template: boolean) => tokens.push({ id, text, start: null, end: null, template, special: id < 200 });
  push(2, '<bos>', false);
  const all = new Set<number>();
  const kFirst = new Set<number>();
  const postKFirst = new Set<number>();
  for (const [role, n] of turns) {
    push(106, '<start_of_turn>', true);
    push(role === 'model' ? 2516 : 1645, role, true);
    push(108, '\n', true);
    const first = tokens.length;
    for (let i = 0; i < n; i++) push(1000 + Math.floor(r() * 5000), 'w', false);
    push(107, '<end_of_turn>', true);
    push(108, '\n', true);
    if (role !== 'model') continue;
    // Predictions of the n content tokens and <end_of_turn> are made at first-1 .. first+n-1; the first of
    // those is the template "\n" (counted in the 10, not scored in k_first).
    for (let t = first - 1; t <= first + n - 1; t++) {
      all.add(t);
      if (t > first - 1 && t < first - 1 + 10) kFirst.add(t);
      else postKFirst.add(t);
    }
  }
  return { tokens, all, kFirst, postKFirst };
}

const CHATS: [string, number][][] = [
  [['user', 5], ['model', 14], ['user', 3], ['model', 4]],
  [['user', 9], ['model', 23]],
  [['user', 2], ['model', 0], ['user', 4], ['model', 8]],
];

// ---- float64 reference of method.md 9 -----------------------------------------------------------------

function refCodes(w: RefWeights, scale: Float64Array, hB: Float64Array, hC: Float64Array, T: number, threshold?: number): { f: Float64Array; a: Float64Array } {
  const f = new Float64Array(T * D);
  const a = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < D; j++) {
      let pre = w.bEnc[j];
      for (let i = 0; i < d; i++) pre += hB[t * d + i] * w.wEnc[i * D + j] + hC[t * d + i] * w.wEnc[(d + i) * D + j];
      const fj = Math.max(pre, 0);
      a[t * D + j] = fj * scale[j];
      f[t * D + j] = threshold === undefined || fj * scale[j] > threshold ? fj : 0;
    }
  }
  return { f, a };
}

function refPatchedKl(wBase: TinyWeights, wChat: TinyWeights, w: RefWeights, scale: Float64Array, ids: number[], iv: Intervention, threshold?: number): Float64Array {
  const T = ids.length;
  const hB = refFirstHalf(wBase, ids);
  const hC = refFirstHalf(wChat, ids);
  const { f } = refCodes(w, scale, hB, hC, T, threshold);
  const S = iv.kind === 'latents' ? iv.latents : Array.from({ length: D }, (_, j) => j);
  const h = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < d; i++) {
      let delta = 0;
      for (const j of S) delta += f[t * D + j] * (w.wDec[(D + j) * d + i] - w.wDec[j * d + i]);
      const k = t * d + i;
      h[k] = iv.kind === 'none' ? hB[k] : iv.kind === 'chat-error' ? hC[k] - delta : hB[k] + delta;
    }
  }
  return refKl(refSecondHalf(wChat, hC), refSecondHalf(wChat, h), VOCAB);
}

function refSummary(values: number[]): { mean: number; ci95: number; n: number } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { mean, ci95: 1.96 * Math.sqrt(variance / n), n };
}

/** A BatchTopK threshold in the middle of the widest gap among the middle half of the positive scaled activations. */
function thresholdInGap(a: number[]): number {
  const pos = a.filter((v) => v > 0).sort((x, y) => x - y);
  let best = 0;
  let at = 0;
  for (let k = Math.floor(pos.length / 4); k < Math.floor((3 * pos.length) / 4); k++) {
    if (pos[k + 1] - pos[k] > best) [best, at] = [pos[k + 1] - pos[k], k];
  }
  return (pos[at] + pos[at + 1]) / 2;
}

const INTERVENTIONS: Intervention[] = [
  { name: 'none', kind: 'none', latents: [] },
  { name: 'all', kind: 'all', latents: [] },
  { name: 'chat-error', kind: 'chat-error', latents: [] },
  { name: 'latents', kind: 'latents', latents: [1, 4, 7, 11, 16, 19, 22] },
];

for (const kind of ['relu', 'batchtopk'] as const) {
  test(`kl (${kind}) equals the float64 reference for every intervention and position subset`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-patch-'));
    const wBase = randomTinyWeights(11, d, VOCAB);
    const wChat = randomTinyWeights(12, d, VOCAB);
    const base = await TinySplitModel.create('tiny-base', wBase);
    const chat = await TinySplitModel.create('tiny-chat', wChat);
    try {
      const laid = CHATS.map((c, k) => layOut(c, 100 + k));
      const docs: PatchingDocument[] = laid.map((l) => ({ ids: l.tokens.map((t) => t.id), masks: scoredPositions(l.tokens, MARKERS)! }));
      let fixture = writeFixture(dir, { d, D, seed: 5, layout: 'LDd' });
      const scale = refScale(refGeometry(fixture.w), 'crosscoder');
      let threshold: number | undefined;
      if (kind === 'batchtopk') {
        const a = docs.flatMap((doc) => Array.from(refCodes(fixture.w, scale, refFirstHalf(wBase, doc.ids), refFirstHalf(wChat, doc.ids), doc.ids.length).a));
        threshold = Math.fround(thresholdInGap(a));
        assert.ok(a.every((v) => Math.abs(v - threshold!) > 1e-4 * threshold!), 'no activation sits on the threshold');
        fixture = writeFixture(dir, { d, D, seed: 5, layout: 'LDd', kind, threshold });
      }
      const metrics = await computeLatentMetrics(fixture.ckpt, { cacheDir: dir });
      const crosscoder = await openPatchCrosscoder(fixture.ckpt, metrics, { cacheDir: dir });
      let reported = 0;
      const result = await runPatchingExperiment({ base, chat, crosscoder }, docs, INTERVENTIONS, { chunkTokens: 7, progress: (n) => (reported = n) });
      await crosscoder.dispose();
      assert.equal(result.documents, 3);
      assert.equal(reported, 3);
      for (const [i, iv] of INTERVENTIONS.entries()) {
        const got = result.interventions[i];
        assert.equal(got.name, iv.name);
        const ref = docs.map((doc) => refPatchedKl(wBase, wChat, fixture.w, scale, doc.ids, iv, threshold));
        for (const [subset, key] of [['all', 'all'], ['k_first', 'kFirst'], ['post_k_first', 'postKFirst']] as const) {
          const values = laid.flatMap((l, k) => [...l[key]].sort((x, y) => x - y).map((t) => ref[k][t]));
          const want = refSummary(values);
          const s = got.kl[subset];
          assert.equal(s.n, want.n, `${iv.name} ${subset} n`);
          assert.ok(want.mean > 1e-3, `${iv.name} ${subset}: the reference KL is not trivially small (${want.mean})`);
          assert.ok(relErr(s.mean, want.mean, 0) < 1e-4, `${iv.name} ${subset} mean ${s.mean} vs ${want.mean}`);
          assert.ok(relErr(s.ci95, want.ci95, 0) < 1e-4, `${iv.name} ${subset} ci95 ${s.ci95} vs ${want.ci95}`);
        }
        const expected = laid.flatMap((l, k) => [...l.all].sort((x, y) => x - y).map((t) => ({ document: k, position: t, kl: ref[k][t] })));
        assert.deepEqual(got.perToken.map((p) => [p.document, p.position]), expected.map((p) => [p.document, p.position]));
        got.perToken.forEach((p, k) => assert.ok(Math.abs(p.kl - expected[k].kl) <= 1e-4 * expected[k].kl + 1e-6, `${iv.name} token ${k}: ${p.kl} vs ${expected[k].kl}`));
      }
      // Sanity of the setup: the interventions really differ.
      const means = result.interventions.map((r) => r.kl.all.mean);
      assert.equal(new Set(means.map((m) => m.toPrecision(4))).size, means.length);
    } finally {
      await base.dispose();
      await chat.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

type PatchPair = Parameters<typeof runPatchingExperiment>[0];

/** A random tiny pair and crosscoder (seeds 1, 2, 3) for `body`; everything is disposed and removed after. */
async function withTinyPair(body: (pair: PatchPair) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ld-patch-'));
  const base = await TinySplitModel.create('tiny-base', randomTinyWeights(1, d, VOCAB));
  const chat = await TinySplitModel.create('tiny-chat', randomTinyWeights(2, d, VOCAB));
  try {
    const { ckpt } = writeFixture(dir, { d, D, seed: 3, layout: 'LDd' });
    const crosscoder = await openPatchCrosscoder(ckpt, await computeLatentMetrics(ckpt, { cacheDir: dir }), { cacheDir: dir });
    try {
      await body({ base, chat, crosscoder });
    } finally {
      await crosscoder.dispose();
    }
  } finally {
    await base.dispose();
    await chat.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a latent out of range and a chat model without a second half are refused before any work', () =>
  withTinyPair(async ({ base, chat, crosscoder }) => {
    const docs = [{ ids: [2, 5], masks: { all: new Uint8Array(2), k_first: new Uint8Array(2), post_k_first: new Uint8Array(2) } }];
    await assert.rejects(
      runPatchingExperiment({ base, chat, crosscoder }, docs, [{ name: 'latents', kind: 'latents', latents: [3, D] }]),
      (e: unknown) => e instanceof LatentDiffError && e.problem.includes(`latent ${D}`) && e.problem.includes(`0..${D - 1}`),
    );
    const halfOnly = Object.assign(Object.create(Object.getPrototypeOf(chat)), chat, { hasSecondHalf: false });
    await assert.rejects(
      runPatchingExperiment({ base, chat: halfOnly, crosscoder }, docs, [{ name: 'none', kind: 'none', latents: [] }]),
      (e: unknown) => e instanceof LatentDiffError && e.file === 'tiny-chat' && e.code === 'no-second-half',
    );
  }));

test('the experiment stops at the checkpoint after a document: cancelling between documents runs no further one', () =>
  withTinyPair(async ({ base, chat, crosscoder }) => {
    const laid = CHATS.map((c, k) => layOut(c, 200 + k));
    const docs = laid.map((l) => ({ ids: l.tokens.map((t) => t.id), masks: scoredPositions(l.tokens, MARKERS)! }));
    let done = 0;
    let pulled = 0;
    const source = (function* () {
      for (const doc of docs) {
        pulled++;
        yield doc;
      }
    })();
    const checkpoint = async () => {
      if (done >= 1) throw new Error('cancelled');
    };
    await assert.rejects(runPatchingExperiment({ base, chat, crosscoder }, source, INTERVENTIONS, { checkpoint, progress: (n) => (done = n) }), /cancelled/);
    assert.equal(done, 1);
    assert.equal(pulled, 2, 'the second document was read but not run');
  }));
