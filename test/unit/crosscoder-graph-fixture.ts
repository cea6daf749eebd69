/**
 * Test fixture for the crosscoder graphs and metrics: random crosscoder checkpoints written as .safetensors
 * (seeded), plus an independent float64 reference of the math (method.md 2.2, 2.3, 4.1, 4.2).
 */
import { join } from 'node:path';
import { getTensor, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../../extension/engine/bundle/safetensors';
import type { LatentGeometry } from '../../extension/engine/latents/metrics';
import type { CodeNormalization, CrosscoderCheckpoint } from '../../extension/engine/types';
import { gaussian, seededRandom as prng } from '../../extension/engine/random';

export { gaussian, prng };

export interface FixtureOptions {
  d: number;
  D: number;
  seed: number;
  layout: 'LDd' | 'DLd';
  kind?: 'relu' | 'batchtopk';
  threshold?: number;
  codeNormalization?: CodeNormalization;
  legacyBias?: boolean;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Latents whose decoder vectors are zero in the base model, the chat model, or both. */
  zeroBase?: number[];
  zeroChat?: number[];
}

/** The stored weights as float64, canonical layouts: wEnc [2,d,D], bEnc [D] (legacy rows summed), wDec [2,D,d], bDec [2,d]. */
export interface RefWeights {
  d: number;
  D: number;
  wEnc: Float64Array;
  bEnc: Float64Array;
  wDec: Float64Array;
  bDec: Float64Array;
}

function f16Bits(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign;
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

function f16Value(h: number): number {
  const e = (h >> 10) & 0x1f;
  const v = e === 0 ? (h & 0x3ff) * 2 ** -24 : (1 + (h & 0x3ff) / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** Stores `values` in `dtype` and returns what the file holds, read back as float64. */
function store(values: Float64Array, dtype: 'F32' | 'F16' | 'BF16', shape: number[]): { t: TensorToWrite; exact: Float64Array } {
  if (dtype === 'F32') {
    const data = Float32Array.from(values);
    return { t: { dtype, shape, data }, exact: Float64Array.from(data) };
  }
  const data = new Uint16Array(values.length);
  const exact = new Float64Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'F16') {
      data[i] = f16Bits(values[i]);
      exact[i] = f16Value(data[i]);
    } else {
      f[0] = values[i];
      data[i] = u[0] >>> 16;
      u[0] = data[i] << 16;
      exact[i] = f[0];
    }
  }
  return { t: { dtype, shape, data }, exact };
}

/** Writes a random crosscoder to dir/model.safetensors and returns its checkpoint record and reference weights. */
export function writeFixture(dir: string, o: FixtureOptions): { ckpt: CrosscoderCheckpoint; w: RefWeights } {
  const { d, D } = o;
  const r = prng(o.seed);
  const dtype = o.dtype ?? 'F32';
  const encStd = 1 / Math.sqrt(2 * d);
  const wEncRaw = Float64Array.from({ length: 2 * d * D }, () => gaussian(r) * encStd);
  const bEncRaw = Float64Array.from({ length: (o.legacyBias ? 2 : 1) * D }, () => gaussian(r) * 0.3);
  // Per-model decoder norms spread over [0, 2) so Delta-norm covers its whole range.
  const gain = Float64Array.from({ length: 2 * D }, () => 2 * r());
  for (const j of o.zeroBase ?? []) gain[j] = 0;
  for (const j of o.zeroChat ?? []) gain[D + j] = 0;
  const wDecCanon = new Float64Array(2 * D * d);
  for (let m = 0; m < 2; m++) for (let j = 0; j < D; j++) for (let i = 0; i < d; i++) wDecCanon[(m * D + j) * d + i] = gaussian(r) * gain[m * D + j] / Math.sqrt(d);
  const bDecRaw = Float64Array.from({ length: 2 * d }, () => gaussian(r) * 0.5);

  const wDecStored = new Float64Array(2 * D * d);
  if (o.layout === 'LDd') wDecStored.set(wDecCanon);
  else for (let m = 0; m < 2; m++) for (let j = 0; j < D; j++) for (let i = 0; i < d; i++) wDecStored[(j * 2 + m) * d + i] = wDecCanon[(m * D + j) * d + i];

  const enc = store(wEncRaw, dtype, [2, d, D]);
  const dec = store(wDecStored, dtype, o.layout === 'LDd' ? [2, D, d] : [D, 2, d]);
  const bEnc = store(bEncRaw, 'F32', o.legacyBias ? [2, D] : [D]);
  const bDec = store(bDecRaw, 'F32', [2, d]);
  const tensors: Record<string, TensorToWrite> = {
    'encoder.weight': enc.t, 'encoder.bias': bEnc.t, 'decoder.weight': dec.t, 'decoder.bias': bDec.t,
  };
  if (o.kind === 'batchtopk') tensors.threshold = { dtype: 'F32', shape: [], data: Float32Array.of(o.threshold ?? 0) };
  const file = join(dir, 'model.safetensors');
  writeSafetensors(file, tensors);

  const st = readSafetensorsHeader(file);
  const ckpt: CrosscoderCheckpoint = {
    dir, file,
    format: o.layout === 'LDd' ? 'dictionary_learning' : 'ckkissane',
    kind: o.kind ?? 'relu',
    dModel: d, dictSize: D,
    codeNormalization: o.codeNormalization ?? 'crosscoder',
    threshold: o.kind === 'batchtopk' ? Math.fround(o.threshold ?? 0) : undefined,
    encoderWeight: getTensor(st, 'encoder.weight'),
    encoderBias: getTensor(st, 'encoder.bias'),
    decoderWeight: getTensor(st, 'decoder.weight'),
    decoderLayout: o.layout,
    decoderBias: getTensor(st, 'decoder.bias'),
    identity: `fixture-${o.seed}-${d}-${D}-${o.layout}-${dtype}`,
  };
  const bEncSum = new Float64Array(D);
  for (let j = 0; j < D; j++) bEncSum[j] = Math.fround(bEnc.exact[j] + (o.legacyBias ? bEnc.exact[D + j] : 0));
  const wDec = new Float64Array(2 * D * d);
  for (let m = 0; m < 2; m++) for (let j = 0; j < D; j++) for (let i = 0; i < d; i++) {
    wDec[(m * D + j) * d + i] = dec.exact[o.layout === 'LDd' ? (m * D + j) * d + i : (j * 2 + m) * d + i];
  }
  return { ckpt, w: { d, D, wEnc: enc.exact, bEnc: bEncSum, wDec, bDec: bDec.exact } };
}

export function randomTokens(T: number, d: number, seed: number): { xBase: Float32Array; xChat: Float32Array } {
  const r = prng(seed);
  return {
    xBase: Float32Array.from({ length: T * d }, () => gaussian(r)),
    xChat: Float32Array.from({ length: T * d }, () => gaussian(r)),
  };
}

// ---- float64 reference -------------------------------------------------------------------------------

/** The same quantities as the engine's LatentGeometry, computed independently below. */
export type RefGeometry = Omit<LatentGeometry, 'dictSize'>;

export function refGeometry(w: RefWeights): RefGeometry {
  const { d, D } = w;
  const g: RefGeometry = {
    decNormBase: new Float64Array(D), decNormChat: new Float64Array(D), decCos: new Float64Array(D),
    encNormBase: new Float64Array(D), encNormChat: new Float64Array(D), encCos: new Float64Array(D),
  };
  for (let j = 0; j < D; j++) {
    let bb = 0, cc = 0, bc = 0, eb = 0, ec = 0, ebc = 0;
    for (let i = 0; i < d; i++) {
      const u = w.wDec[j * d + i];
      const v = w.wDec[(D + j) * d + i];
      bb += u * u; cc += v * v; bc += u * v;
      const p = w.wEnc[i * D + j];
      const q = w.wEnc[(d + i) * D + j];
      eb += p * p; ec += q * q; ebc += p * q;
    }
    g.decNormBase[j] = Math.sqrt(bb);
    g.decNormChat[j] = Math.sqrt(cc);
    g.decCos[j] = bb > 0 && cc > 0 ? bc / Math.sqrt(bb * cc) : 0;
    g.encNormBase[j] = Math.sqrt(eb);
    g.encNormChat[j] = Math.sqrt(ec);
    g.encCos[j] = eb > 0 && ec > 0 ? ebc / Math.sqrt(eb * ec) : 0;
  }
  return g;
}

export function refScale(g: RefGeometry, norm: CodeNormalization): Float64Array {
  return g.decNormBase.map((b, j) => {
    const c = g.decNormChat[j];
    const sae = Math.sqrt(b * b + c * c);
    if (norm === 'crosscoder') return b + c;
    if (norm === 'sae') return sae;
    if (norm === 'mixed') return sae + 0.1 * (b + c);
    return 1;
  });
}

/** Pre-activations [T,D] and, per element, the sum of absolute terms (the scale rounding errors are relative to). */
export function refPre(w: RefWeights, xBase: Float32Array, xChat: Float32Array, T: number): { pre: Float64Array; mag: Float64Array } {
  const { d, D } = w;
  const pre = new Float64Array(T * D);
  const mag = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < D; j++) {
      let s = w.bEnc[j];
      let m = Math.abs(w.bEnc[j]);
      for (let i = 0; i < d; i++) {
        const u = xBase[t * d + i] * w.wEnc[i * D + j];
        const v = xChat[t * d + i] * w.wEnc[(d + i) * D + j];
        s += u + v;
        m += Math.abs(u) + Math.abs(v);
      }
      pre[t * D + j] = s;
      mag[t * D + j] = m;
    }
  }
  return { pre, mag };
}

/** Raw f (after the BatchTopK threshold when given) and scaled a = f * s, [T,D]. */
export function refActivations(pre: Float64Array, scale: Float64Array, threshold?: number): { f: Float64Array; a: Float64Array } {
  const D = scale.length;
  const f = new Float64Array(pre.length);
  const a = new Float64Array(pre.length);
  for (let k = 0; k < pre.length; k++) {
    const fk = Math.max(pre[k], 0);
    const ak = fk * scale[k % D];
    const keep = threshold === undefined || ak > threshold;
    f[k] = keep ? fk : 0;
    a[k] = keep ? ak : 0;
  }
  return { f, a };
}

export function refDecode(w: RefWeights, f: ArrayLike<number>, T: number): { base: Float64Array; chat: Float64Array } {
  const { d, D } = w;
  const out = [new Float64Array(T * d), new Float64Array(T * d)];
  for (let m = 0; m < 2; m++) {
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) {
        let s = w.bDec[m * d + i];
        for (let j = 0; j < D; j++) s += f[t * D + j] * w.wDec[(m * D + j) * d + i];
        out[m][t * d + i] = s;
      }
    }
  }
  return { base: out[0], chat: out[1] };
}

/** |got - want| / max(|want|, floor): relative error, with a floor where the true value is ~0 (rounding noise). */
export function relErr(got: number, want: number, floor: number): number {
  if (got === want || (Number.isNaN(got) && Number.isNaN(want))) return 0;
  return Math.abs(got - want) / Math.max(Math.abs(want), floor);
}

export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>, floor: number | ((k: number) => number)): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let worst = 0;
  for (let k = 0; k < got.length; k++) worst = Math.max(worst, relErr(got[k], want[k], typeof floor === 'number' ? floor : floor(k)));
  return worst;
}
