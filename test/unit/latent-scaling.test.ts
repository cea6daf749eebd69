import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExactSums } from '../../extension/engine/analysis/stats/exact-sums';
import {
  LatentScalingAccumulator, decoderGeometry, decoderRow, latentScalingResult, type DecoderWeights,
} from '../../extension/engine/latents/latent-scaling';
import { latentVerdict } from '../../extension/engine/latents/verdict';
import { seededRandom as rng } from '../../extension/engine/random';


function randomDecoder(r: () => number, d: number, D: number, layout: 'LDd' | 'DLd'): DecoderWeights {
  const weight = Float32Array.from({ length: 2 * D * d }, () => r() * 2 - 1);
  const bias = Float32Array.from({ length: 2 * d }, () => r() - 0.5);
  return { dModel: d, dictSize: D, weight, layout, bias };
}

/** Independent float64 reference: materialise every target vector and solve the 1-D least squares per latent. */
function referenceBetas(dec: DecoderWeights, f: number[][], xb: number[][], xc: number[][]) {
  const { dModel: d, dictSize: D } = dec;
  const row = (m: 0 | 1, j: number) => Array.from(dec.weight.subarray(decoderRow(dec, m, j), decoderRow(dec, m, j) + d), Number);
  const bias = (m: 0 | 1) => Array.from(dec.bias.subarray(m * d, (m + 1) * d), Number);
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  const N = f.length;
  const recon = (m: 0 | 1, n: number) => {
    const out = bias(m);
    for (let k = 0; k < D; k++) if (f[n][k] !== 0) row(m, k).forEach((v, i) => (out[i] += f[n][k] * v));
    return out;
  };
  const xhat = [0, 1].map((m) => Array.from({ length: N }, (_, n) => recon(m as 0 | 1, n)));
  const out: Record<string, number[]> = {};
  const put = (k: string, j: number, v: number) => ((out[k] ??= [])[j] = v);
  for (let j = 0; j < D; j++) {
    const dj = row(1, j);
    const fit = (target: (n: number) => number[]) => {
      const A = new Array(d).fill(0);
      let C = 0;
      for (let n = 0; n < N; n++) {
        const fn = f[n][j];
        if (fn === 0) continue;
        target(n).forEach((v, i) => (A[i] += fn * v));
        C += fn * fn;
      }
      return dot(dj, A) / (dot(dj, dj) * C);
    };
    for (const m of [0, 1] as const) {
      const x = m === 0 ? xb : xc;
      const name = m === 0 ? 'Base' : 'Chat';
      put(`betaActivation${name}`, j, fit((n) => x[n]));
      put(`betaActivationNoBias${name}`, j, fit((n) => x[n].map((v, i) => v - bias(m)[i])));
      put(`betaReconstruction${name}`, j, fit((n) => xhat[m][n]));
      const djm = row(m, j);
      put(`betaError${name}`, j, fit((n) => x[n].map((v, i) => v - (xhat[m][n][i] - f[n][j] * djm[i]))));
    }
    out.ratioActivation ??= [];
    out.ratioActivation[j] = out.betaActivationBase[j] / out.betaActivationChat[j];
    (out.ratioActivationNoBias ??= [])[j] = out.betaActivationNoBiasBase[j] / out.betaActivationNoBiasChat[j];
    (out.ratioReconstruction ??= [])[j] = out.betaReconstructionBase[j] / out.betaReconstructionChat[j];
    (out.ratioError ??= [])[j] = out.betaErrorBase[j] / out.betaErrorChat[j];
  }
  return out;
}

for (const layout of ['LDd', 'DLd'] as const) {
  test(`every beta and ratio matches a materialised float64 least-squares fit (${layout})`, () => {
    const r = rng(layout === 'LDd' ? 7 : 11);
    const d = 12, D = 24, N = 80;
    const dec = randomDecoder(r, d, D, layout);
    const f: number[][] = [];
    const xb: number[][] = [];
    const xc: number[][] = [];
    for (let n = 0; n < N; n++) {
      // latent D-1 never fires: its betas must be NaN, as in the reference (0/0).
      f.push(Array.from({ length: D }, (_, j) => (j < D - 1 && r() < 0.3 ? Math.fround(r() * 3) : 0)));
      xb.push(Array.from({ length: d }, () => Math.fround(r() * 4 - 2)));
      xc.push(Array.from({ length: d }, () => Math.fround(r() * 4 - 2)));
    }
    const acc = new LatentScalingAccumulator(dec);
    for (let n = 0; n < N; n++) {
      const active = f[n].map((v, j) => (v > 0 ? j : -1)).filter((j) => j >= 0);
      acc.addToken(active, active.map((j) => f[n][j]), active.length, Float32Array.from(xb[n]), Float32Array.from(xc[n]), 0);
    }
    const got = latentScalingResult(acc.sums, decoderGeometry(dec)) as unknown as Record<string, Float64Array>;
    const want = referenceBetas(dec, f, xb, xc);
    assert.equal(Object.keys(want).length, 12);
    for (const [name, ref] of Object.entries(want)) {
      for (let j = 0; j < D; j++) {
        if (j === D - 1) {
          assert.ok(Number.isNaN(got[name][j]), `${name}[${j}] should be NaN for a latent that never fires`);
          continue;
        }
        const rel = Math.abs(got[name][j] - ref[j]) / Math.max(Math.abs(ref[j]), 1e-12);
        assert.ok(rel < 1e-6, `${name}[${j}] = ${got[name][j]}, reference ${ref[j]} (rel err ${rel})`);
      }
    }
  });
}

test('exact sums do not depend on the order or grouping of the additions', () => {
  const r = rng(3);
  const terms = Array.from({ length: 3000 }, () => (r() - 0.5) * 10 ** Math.floor(r() * 24 - 12));
  terms.push(1e20, -1e20, 3.5e-9);
  const inOrder = new ExactSums(1);
  for (const t of terms) inOrder.add(0, t);
  const shuffled = [...terms].sort(() => r() - 0.5);
  const parts = [new ExactSums(1), new ExactSums(1), new ExactSums(1)];
  shuffled.forEach((t, i) => parts[i % 3].add(0, t));
  const merged = new ExactSums(1);
  for (const p of [parts[2], parts[0], parts[1]]) merged.addAll(p);
  assert.equal(merged.value(0), inOrder.value(0));
  assert.equal(inOrder.inexactAdds, 0);
  // The exact rational sum, in integers scaled by 2^200 (every term here is a multiple of 2^-200), rounded once.
  const exact = terms.reduce((acc, t) => acc + BigInt(t * 2 ** 200), 0n);
  assert.equal(inOrder.value(0), Number(exact) * 2 ** -200);
  const naive = terms.reduce((a, b) => a + b, 0);
  assert.notEqual(naive, inOrder.value(0), 'the test data should defeat naive summation');
});

test('exact sums are correctly rounded where naive summation is not', () => {
  const s = new ExactSums(2);
  for (const t of [1e100, 1, -1e100]) s.add(0, t);
  assert.equal(s.value(0), 1);
  for (const t of [1, 2 ** -53, 2 ** -106]) s.add(1, t);
  assert.equal(s.value(1), 1 + 2 ** -52, 'a half-way case broken upward by the tiny third term');
  s.add(1, NaN);
  assert.ok(Number.isNaN(s.value(1)));
});

test('verdicts follow the flags and tags', () => {
  assert.equal(latentVerdict('chat-only', 0.05, 0.1).verdict, 'robust-chat-specific');
  const cs = latentVerdict('chat-only', 0.4, 0.1);
  assert.equal(cs.verdict, 'complete-shrinkage');
  assert.equal(cs.completeShrinkage, true);
  assert.equal(cs.latentDecoupling, false);
  assert.equal(latentVerdict('chat-only', 0.1, 0.7).verdict, 'latent-decoupling');
  assert.equal(latentVerdict('chat-only', NaN, NaN).verdict, 'chat-only-unscaled');
  assert.equal(latentVerdict('chat-only', 0.2, 0.5, { completeShrinkage: 0.3, latentDecoupling: 0.6 }).verdict, 'robust-chat-specific');
  assert.equal(latentVerdict('shared', 0.9, 0.9).verdict, 'shared');
  assert.equal(latentVerdict('base-only', NaN, NaN).verdict, 'base-only');
});

test('feature_df columns: betas, ratios, error set, freq, max_act and template shares map to the right quantities', async () => {
  const { ScanAccumulator, emptyScan } = await import('../../extension/engine/analysis/stats/scan-accumulator');
  const { featureColumns } = await import('../../extension/engine/analysis/stats/feature-table');
  const { tagCodes } = await import('../../extension/engine/latents/tags');
  const r = rng(5);
  const d = 6, D = 10, T = 40;
  const dec = randomDecoder(r, d, D, 'LDd');
  const norm = (m: 0 | 1, j: number) => Math.hypot(...dec.weight.subarray(decoderRow(dec, m, j), decoderRow(dec, m, j) + d));
  const nb = Float32Array.from({ length: D }, (_, j) => norm(0, j));
  const nc = Float32Array.from({ length: D }, (_, j) => norm(1, j));
  const delta = Float32Array.from({ length: D }, (_, j) => 0.5 * ((nc[j] - nb[j]) / Math.max(nb[j], nc[j]) + 1));
  const scale = Float32Array.from({ length: D }, (_, j) => nb[j] + nc[j]);
  const metrics = {
    dictSize: D, decNormBase: nb, decNormChat: nc, deltaNorm: delta, decCos: new Float32Array(D), encNormBase: nb, encNormChat: nc,
    encCos: new Float32Array(D), scale, tag: tagCodes(delta),
  };
  const f: number[][] = Array.from({ length: T }, () => Array.from({ length: D }, () => (r() < 0.4 ? Math.fround(r() * 2) : 0)));
  const xb = Array.from({ length: T }, () => Array.from({ length: d }, () => Math.fround(r() * 2 - 1)));
  const xc = Array.from({ length: T }, () => Array.from({ length: d }, () => Math.fround(r() * 2 - 1)));
  // one chat sequence: <bos>, then tokens 1..5 are template tokens, the rest user/assistant content
  const ctrl = Uint8Array.from({ length: T }, (_, t) => (t >= 1 && t <= 5 ? t : 0));
  const assistant = Uint8Array.from({ length: T }, (_, t) => (t >= 20 ? 1 : 0));
  const scan = emptyScan(D);
  new ScanAccumulator(scan, dec, scale, 2).addSequence(
    { index: 0, ids: Int32Array.from({ length: T }, (_, t) => (t === 0 ? 2 : 100 + t)), ctrl, assistant, chat: true },
    Float32Array.from(f.flat()), Float32Array.from(xb.flat()), Float32Array.from(xc.flat()),
  );
  const errorSet = Uint8Array.from({ length: D }, (_, j) => (j % 3 === 0 ? 0 : 1));
  const cols = new Map(featureColumns(metrics, decoderGeometry(dec), scan, errorSet, { completeShrinkage: 0.2, latentDecoupling: 0.5 }).map((c) => [c.name, c.values]));
  const want = referenceBetas(dec, f, xb, xc);
  const names: [string, string][] = [
    ['beta_activation_base', 'betaActivationBase'], ['beta_activation_chat', 'betaActivationChat'], ['beta_activation_ratio', 'ratioActivation'],
    ['beta_activation_no_bias_base', 'betaActivationNoBiasBase'], ['beta_activation_no_bias_chat', 'betaActivationNoBiasChat'],
    ['beta_activation_no_bias_ratio', 'ratioActivationNoBias'], ['beta_reconstruction_base', 'betaReconstructionBase'],
    ['beta_reconstruction_chat', 'betaReconstructionChat'], ['beta_ratio_reconstruction', 'ratioReconstruction'], ['nu_r', 'ratioReconstruction'],
    ['beta_error_base', 'betaErrorBase'], ['beta_error_chat', 'betaErrorChat'], ['beta_ratio_error', 'ratioError'], ['nu_eps', 'ratioError'],
  ];
  for (const [col, ref] of names) {
    for (let j = 0; j < D; j++) {
      const got = (cols.get(col) as Float64Array)[j];
      if (/error|nu_eps/.test(col) && errorSet[j] === 0) {
        assert.ok(Number.isNaN(got), `${col}[${j}] outside the error set must be empty`);
        continue;
      }
      assert.ok(Math.abs(got - want[ref][j]) <= 1e-6 * Math.abs(want[ref][j]), `${col}[${j}] = ${got}, reference ${want[ref][j]}`);
    }
  }
  for (let j = 0; j < D; j++) {
    const a = f.map((row) => Math.fround(row[j] * scale[j]));
    assert.equal((cols.get('freq') as Float64Array)[j], a.filter((v) => v > 0).length / T);
    assert.equal((cols.get('max_act') as Float64Array)[j], Math.max(...a));
    const on = (t: number) => a[t] > 1e-3;
    const ctrlN = a.filter((_, t) => ctrl[t] && on(t)).length;
    const nonCtrlN = a.filter((_, t) => t > 0 && !ctrl[t] && on(t)).length;
    const share = (cols.get('lmsys_ctrl_%') as Float64Array)[j];
    if (ctrlN + nonCtrlN === 0) assert.ok(Number.isNaN(share));
    else assert.equal(share, ctrlN / (ctrlN + nonCtrlN));
    assert.ok(Math.abs((cols.get('dec_norm_diff') as Float64Array)[j] - (1 - delta[j])) < 1e-6, 'dec_norm_diff is 1 - Delta-norm');
  }
});
