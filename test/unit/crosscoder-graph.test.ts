import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrosscoderRunner, type EncodeResult } from '../../extension/engine/runtime/crosscoder-runner';
import { buildEncodeGraph } from '../../extension/engine/graphs/crosscoder-graph';
import { computeLatentMetrics } from '../../extension/engine/latents/metrics';
import { LatentDiffError } from '../../extension/engine/errors';
import type { CrosscoderCheckpoint } from '../../extension/engine/types';
import {
  maxRelErr, prng, randomTokens, refActivations, refDecode, refGeometry, refPre, refScale, relErr, writeFixture,
  type FixtureOptions, type RefWeights,
} from './crosscoder-graph-fixture';

const TOL = 1e-5;
/** float32 rounding of a sum is relative to the sum of absolute terms; a value this close to 0 (or to the threshold) may flip. */
const FLIP = 1e-5;

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ld-ccgraph-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

interface Reference {
  f: Float64Array;
  a: Float64Array;
  /** per element: scale of the rounding error of f (sum of |terms|) and of a (that times s_j) */
  fMag: Float64Array;
  aMag: Float64Array;
  /** per element: whether a float32 computation may legitimately land on the other side of 0 or the threshold */
  ambiguous: Uint8Array;
}

function reference(w: RefWeights, ckpt: CrosscoderCheckpoint, x: { xBase: Float32Array; xChat: Float32Array }, T: number): Reference {
  const { pre, mag } = refPre(w, x.xBase, x.xChat, T);
  const scale = refScale(refGeometry(w), ckpt.codeNormalization);
  const threshold = ckpt.kind === 'batchtopk' ? ckpt.threshold : undefined;
  const { f, a } = refActivations(pre, scale, threshold);
  const D = w.D;
  const aMag = mag.map((m, k) => m * scale[k % D]);
  const ambiguous = new Uint8Array(pre.length);
  for (let k = 0; k < pre.length; k++) {
    const nearZero = Math.abs(pre[k]) < FLIP * mag[k];
    const nearThreshold = threshold !== undefined && Math.abs(pre[k] * scale[k % D] - threshold) < FLIP * aMag[k];
    ambiguous[k] = nearZero || nearThreshold ? 1 : 0;
  }
  return { f, a, fMag: mag, aMag, ambiguous };
}

/** Scaled-activation comparisons: value error relative to the rounding scale; ambiguous elements may be 0 or the value. */
function sameAct(got: number, ref: Reference, k: number): boolean {
  if (relErr(got, ref.a[k], ref.aMag[k]) < TOL) return true;
  if (!ref.ambiguous[k]) return false;
  return got === 0 || relErr(got, Math.max(0, ref.a[k]), ref.aMag[k]) < TOL;
}

function checkEncode(res: EncodeResult, ref: Reference, T: number, D: number, K: number, select: number[]): void {
  // Per-token top-k: the values are the k largest of the reference row; each index points at its value.
  for (let t = 0; t < T; t++) {
    const row = Array.from(ref.a.subarray(t * D, (t + 1) * D));
    const sorted = [...row].sort((p, q) => q - p);
    for (let r = 0; r < K; r++) {
      const v = res.topValues[t * K + r];
      const j = res.topIndices[t * K + r];
      assert.ok(j >= 0 && j < D);
      assert.ok(sameAct(v, ref, t * D + j), `top value at token ${t} rank ${r}: latent ${j} got ${v}, reference ${row[j]}`);
      if (r > 0) assert.ok(v <= res.topValues[t * K + r - 1], 'descending');
      if (v > 0) assert.ok(relErr(v, sorted[r], ref.aMag[t * D + j]) < TOL, `rank ${r} of token ${t}: ${v} vs ${sorted[r]}`);
    }
  }
  // Per-latent summary over all tokens (and so across chunks).
  for (let j = 0; j < D; j++) {
    let max = 0;
    let arg = 0;
    let count = 0;
    let loose = 0;
    for (let t = 0; t < T; t++) {
      const v = ref.a[t * D + j];
      if (v > max) {
        max = v;
        arg = t;
      }
      if (v > 0) count++;
      loose += ref.ambiguous[t * D + j];
    }
    const gotArg = res.latentArgmax[j];
    assert.ok(Math.abs(res.latentCount[j] - count) <= loose, `count of latent ${j}: ${res.latentCount[j]} vs ${count}`);
    if (loose === 0) {
      assert.ok(relErr(res.latentMax[j], max, ref.aMag[arg * D + j]) < TOL, `max of latent ${j}: ${res.latentMax[j]} vs ${max}`);
      assert.ok(gotArg >= 0 && gotArg < T);
      // The argmax token holds the max (near-ties within rounding either way); on an exact tie (identical
      // tokens) it is the first of them.
      assert.ok(sameAct(res.latentMax[j], ref, gotArg * D + j), `argmax of latent ${j}`);
      if (max === 0) assert.equal(gotArg, 0, `argmax of silent latent ${j}`);
      else for (let t = 0; t < gotArg; t++) assert.ok(ref.a[t * D + j] !== ref.a[gotArg * D + j], `latent ${j}: token ${t} ties with the argmax ${gotArg} and comes first`);
    }
  }
  assert.equal(res.selected.length, select.length);
  select.forEach((j, s) => {
    assert.equal(res.selected[s].length, T);
    for (let t = 0; t < T; t++) assert.ok(sameAct(res.selected[s][t], ref, t * D + j), `selected latent ${j} at token ${t}`);
  });
}

async function metricsOf(ckpt: CrosscoderCheckpoint, dir: string) {
  return computeLatentMetrics(ckpt, { cacheDir: join(dir, 'cache') });
}

/** A threshold splitting the positive scaled activations in half, away from any value it could be confused with. */
function midThreshold(w: RefWeights, ckpt: CrosscoderCheckpoint, x: { xBase: Float32Array; xChat: Float32Array }, T: number): number {
  const { pre } = refPre(w, x.xBase, x.xChat, T);
  const { a } = refActivations(pre, refScale(refGeometry(w), ckpt.codeNormalization));
  const pos = Array.from(a).filter((v) => v > 0).sort((p, q) => p - q);
  let i = pos.length >> 1;
  while (Math.fround((pos[i] + pos[i + 1]) / 2) - pos[i] < 1e-3 * pos[i]) i++;
  return Math.fround((pos[i] + pos[i + 1]) / 2);
}

const encodeCases: (Partial<FixtureOptions> & { name: string; T: number; chunk: number; K: number; select: number[] })[] = [
  { name: 'ReLU, LDd, crosscoder norm, legacy bias, 3 chunks', layout: 'LDd', legacyBias: true, T: 13, chunk: 5, K: 7, select: [3, 50, 7, 95] },
  { name: 'ReLU, DLd, sae norm, no latents selected', layout: 'DLd', codeNormalization: 'sae', T: 9, chunk: 256, K: 1, select: [] },
  { name: 'BatchTopK, DLd, crosscoder norm, 2 chunks', layout: 'DLd', kind: 'batchtopk', T: 12, chunk: 8, K: 10, select: [0, 95] },
  { name: 'BatchTopK, LDd, none norm, BF16 weights', layout: 'LDd', kind: 'batchtopk', codeNormalization: 'none', dtype: 'BF16', T: 6, chunk: 4, K: 5, select: [10] },
  { name: 'ReLU, LDd, crosscoder norm, 48 tokens in one chunk (12 blocks of 4)', layout: 'LDd', T: 48, chunk: 256, K: 4, select: [1] },
  { name: 'ReLU, LDd, mixed norm, F16 weights, zero decoders', layout: 'LDd', codeNormalization: 'mixed', dtype: 'F16', zeroBase: [1, 2], zeroChat: [2], T: 7, chunk: 3, K: 96, select: [2] },
];

for (const c of encodeCases) {
  test(`encode matches the float64 reference: ${c.name}`, async () => {
    await withDir(async (dir) => {
      const d = 16;
      const D = 96;
      const x = randomTokens(c.T, d, 99);
      let { ckpt, w } = writeFixture(dir, { d, D, seed: 21, layout: 'LDd', ...c });
      if (ckpt.kind === 'batchtopk') ckpt = { ...ckpt, threshold: midThreshold(w, ckpt, x, c.T) };
      const ref = reference(w, ckpt, x, c.T);
      if (ckpt.kind === 'batchtopk') {
        const { pre } = refPre(w, x.xBase, x.xChat, c.T);
        const dropped = Array.from(pre).filter((p, k) => p > 0 && ref.a[k] === 0).length;
        const kept = Array.from(ref.a).filter((v) => v > 0).length;
        assert.ok(dropped > 20 && kept > 20, `threshold splits the active values (${dropped} dropped, ${kept} kept)`);
      }
      const runner = await CrosscoderRunner.create(ckpt, await metricsOf(ckpt, dir), { cacheDir: dir, topK: c.K, chunkTokens: c.chunk });
      try {
        const res = await runner.encode(x.xBase, x.xChat, c.T, c.select);
        checkEncode(res, ref, c.T, D, c.K, c.select);
        if (c.zeroBase?.includes(2)) {
          for (let t = 0; t < c.T; t++) assert.equal(res.selected[0][t], 0, 'a latent with no decoder never fires');
        }
      } finally {
        await runner.dispose();
      }
    });
  });
}

test('argmax picks the first of identical tokens, within a chunk and across chunks', async () => {
  await withDir(async (dir) => {
    const d = 16;
    const D = 96;
    const T = 12;
    const x = randomTokens(T, d, 12);
    for (const [from, to] of [[1, 6], [1, 11], [3, 4]]) {
      x.xBase.copyWithin(to * d, from * d, (from + 1) * d);
      x.xChat.copyWithin(to * d, from * d, (from + 1) * d);
    }
    const { ckpt, w } = writeFixture(dir, { d, D, seed: 4, layout: 'LDd' });
    const ref = reference(w, ckpt, x, T);
    let ties = 0;
    for (let j = 0; j < D; j++) {
      let best = 0;
      for (let t = 1; t < T; t++) if (ref.a[t * D + j] > ref.a[best * D + j]) best = t;
      if ((best === 1 || best === 3) && ref.a[best * D + j] > 0) ties++;
    }
    assert.ok(ties > 10, `the duplicated tokens hold the max of ${ties} latents`);
    // Chunks of 5 (ties across chunks), 12 (one chunk seen as 6 blocks of 2 tokens: ties across and within blocks).
    for (const chunkTokens of [5, 12]) {
      const runner = await CrosscoderRunner.create(ckpt, await metricsOf(ckpt, dir), { cacheDir: dir, topK: 3, chunkTokens });
      try {
        checkEncode(await runner.encode(x.xBase, x.xChat, T, []), ref, T, D, 3, []);
      } finally {
        await runner.dispose();
      }
    }
  });
});

test('raw activations and reconstructions (exact path) agree with the reference and with the fast path', async () => {
  await withDir(async (dir) => {
    const d = 16;
    const D = 96;
    const T = 11;
    const x = randomTokens(T, d, 5);
    for (const layout of ['LDd', 'DLd'] as const) {
      let { ckpt, w } = writeFixture(dir, { d, D, seed: 33, layout, kind: 'batchtopk', codeNormalization: 'sae' });
      ckpt = { ...ckpt, threshold: midThreshold(w, ckpt, x, T) };
      const ref = reference(w, ckpt, x, T);
      const metrics = await metricsOf(ckpt, dir);
      const full = await CrosscoderRunner.create(ckpt, metrics, { cacheDir: dir, topK: 4, chunkTokens: 4, outputs: { raw: true, recon: true } });
      const fast = await CrosscoderRunner.create(ckpt, metrics, { cacheDir: dir, topK: 4, chunkTokens: 4 });
      try {
        const r = await full.encode(x.xBase, x.xChat, T, [5, 6]);
        checkEncode(r, ref, T, D, 4, [5, 6]);
        assert.ok(r.raw && r.reconBase && r.reconChat);
        for (let k = 0; k < T * D; k++) {
          const ok = relErr(r.raw[k], ref.f[k], ref.fMag[k]) < TOL || (ref.ambiguous[k] && (r.raw[k] === 0 || ref.f[k] === 0 || relErr(r.raw[k], ref.f[k], ref.fMag[k]) < TOL));
          assert.ok(ok, `raw f at ${k}: ${r.raw[k]} vs ${ref.f[k]}`);
        }
        // Reconstruction from the graph's own codes, so threshold flips cannot matter; error relative to the sum of |terms|.
        const rec = refDecode(w, r.raw, T);
        const recMag = refDecode({ ...w, wDec: w.wDec.map(Math.abs), bDec: w.bDec.map(Math.abs) }, r.raw, T);
        assert.ok(maxRelErr(r.reconBase, rec.base, (k) => recMag.base[k]) < TOL, 'recon base');
        assert.ok(maxRelErr(r.reconChat, rec.chat, (k) => recMag.chat[k]) < TOL, 'recon chat');
        const q = await fast.encode(x.xBase, x.xChat, T, [5, 6]);
        assert.deepEqual(q.topValues, r.topValues);
        assert.deepEqual(q.topIndices, r.topIndices);
        assert.deepEqual(q.latentMax, r.latentMax);
        assert.deepEqual(q.latentCount, r.latentCount);
        assert.deepEqual(q.latentArgmax, r.latentArgmax);
        assert.deepEqual(q.selected, r.selected);
      } finally {
        await full.dispose();
        await fast.dispose();
      }
    }
  });
});

for (const layout of ['LDd', 'DLd'] as const) {
  for (const dtype of ['F32', 'BF16'] as const) {
    test(`decode per model matches the reference: ${layout}, ${dtype}`, async () => {
      await withDir(async (dir) => {
        const d = 16;
        const D = 96;
        const T = 10;
        const { ckpt, w } = writeFixture(dir, { d, D, seed: 44, layout, dtype });
        const r = prng(7);
        const f = Float32Array.from({ length: T * D }, () => (r() < 0.2 ? 3 * r() : 0));
        const runner = await CrosscoderRunner.create(ckpt, await metricsOf(ckpt, dir), { cacheDir: dir, topK: 3, chunkTokens: 4 });
        try {
          const { reconBase, reconChat } = await runner.decode(f, T);
          const rec = refDecode(w, f, T);
          const mag = refDecode({ ...w, wDec: w.wDec.map(Math.abs), bDec: w.bDec.map(Math.abs) }, f, T);
          assert.ok(maxRelErr(reconBase, rec.base, (k) => mag.base[k]) < TOL);
          assert.ok(maxRelErr(reconChat, rec.chat, (k) => mag.chat[k]) < TOL);
          // The two models' decoders differ, so a swapped model axis would fail above; check it is not vacuous.
          assert.ok(maxRelErr(rec.base, rec.chat, 1e-3) > 0.1);
        } finally {
          await runner.dispose();
        }
      });
    });
  }
}

test('mid size: d=96, D=1536, 40 tokens in chunks of 16, mixed norm, BatchTopK', async () => {
  await withDir(async (dir) => {
    const d = 96;
    const D = 1536;
    const T = 40;
    const x = randomTokens(T, d, 3);
    let { ckpt, w } = writeFixture(dir, { d, D, seed: 77, layout: 'LDd', kind: 'batchtopk', codeNormalization: 'mixed' });
    ckpt = { ...ckpt, threshold: midThreshold(w, ckpt, x, T) };
    const ref = reference(w, ckpt, x, T);
    const runner = await CrosscoderRunner.create(ckpt, await metricsOf(ckpt, dir), { cacheDir: dir, topK: 16, chunkTokens: 16 });
    try {
      const select = [0, 700, 1535];
      checkEncode(await runner.encode(x.xBase, x.xChat, T, select), ref, T, D, 16, select);
    } finally {
      await runner.dispose();
    }
  });
});

test('zero tokens give empty results; bad inputs are LatentDiffErrors', async () => {
  await withDir(async (dir) => {
    const { ckpt } = writeFixture(dir, { d: 8, D: 32, seed: 9, layout: 'LDd' });
    const metrics = await metricsOf(ckpt, dir);
    const runner = await CrosscoderRunner.create(ckpt, metrics, { cacheDir: dir, topK: 4 });
    try {
      const empty = await runner.encode(new Float32Array(0), new Float32Array(0), 0, [1]);
      assert.equal(empty.topValues.length, 0);
      assert.equal(empty.selected[0].length, 0);
      assert.equal(empty.latentCount.length, 32);
      assert.ok(empty.latentCount.every((c) => c === 0));
      await assert.rejects(runner.encode(new Float32Array(8), new Float32Array(8), 1, [32]), LatentDiffError);
      await assert.rejects(runner.encode(new Float32Array(8), new Float32Array(7), 1, []), LatentDiffError);
    } finally {
      await runner.dispose();
    }
    assert.throws(() => buildEncodeGraph(ckpt, metrics, { topK: 33 }), LatentDiffError);
    assert.throws(() => buildEncodeGraph(ckpt, metrics, { topK: 0 }), LatentDiffError);
    assert.throws(() => buildEncodeGraph({ ...ckpt, kind: 'batchtopk', threshold: undefined }, metrics, { topK: 4 }), (e: unknown) => e instanceof LatentDiffError && e.file === ckpt.file);
    assert.throws(() => buildEncodeGraph({ ...ckpt, codeNormalization: 'decoupled' }, metrics, { topK: 4 }), (e: unknown) => e instanceof LatentDiffError && /decoupled/.test(e.problem));
    assert.throws(() => buildEncodeGraph({ ...ckpt, dModel: 9 }, metrics, { topK: 4 }), (e: unknown) => e instanceof LatentDiffError && /encoder\.weight/.test(e.problem));
  });
});
