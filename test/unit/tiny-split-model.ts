/**
 * Test fixture: a tiny random causal model pair implementing SplitModel through real ONNX Runtime graphs,
 * and the same model in float64 JS as the independent reference.
 *
 * First half:  x_t = E[id_t mod Vin];  h_t = 2 tanh(x_t W1 + mean_{s<=t}(x_s) W2)
 * Second half: g_t = tanh(h_t U1 + mean_{s<=t}(h_s) U2);  z_t = 3 g_t Wu;  logits_t = cap tanh(z_t / cap)
 * then appendNextTokenHead (log-softmax, top-k, full log-probs, KL against a reference). Its unembedding, for
 * logit effects, is Wu^T (appendUnembedTopK). The caches hold the
 * ids / residuals so far and each call recomputes the whole prefix, returning the new positions only (what the
 * SplitModel contract allows for ONNX-file models).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { appendNextTokenHead, NEXT_TOKEN } from '../../extension/engine/graphs/next-token-head';
import { A, DT, GraphBuilder } from '../../extension/engine/graphs/onnx-builder';
import { appendUnembedTopK, runUnembedTopK, type TokenEffects } from '../../extension/engine/graphs/unembed-top-k';
import { gaussian, seededRandom } from '../../extension/engine/random';
import type { KvCache, NextTokenRequest, NextTokenResult, SplitModel } from '../../extension/engine/runtime/split-model';

export interface TinyWeights {
  vIn: number;
  d: number;
  vocab: number;
  cap: number;
  E: Float32Array;
  W1: Float32Array;
  W2: Float32Array;
  U1: Float32Array;
  U2: Float32Array;
  Wu: Float32Array;
}

export function randomTinyWeights(seed: number, d: number, vocab: number, vIn = 97, cap = 6): TinyWeights {
  const r = seededRandom(seed);
  const m = (rows: number, cols: number, std: number) => Float32Array.from({ length: rows * cols }, () => gaussian(r) * std);
  const s = 1.5 / Math.sqrt(d);
  return { vIn, d, vocab, cap, E: m(vIn, d, 1), W1: m(d, d, s), W2: m(d, d, s), U1: m(d, d, s), U2: m(d, d, s), Wu: m(d, vocab, 1 / Math.sqrt(d)) };
}

/** Appends tanh(a A + cummean(a) B) over a [1, S, d]. */
function mixCausal(g: GraphBuilder, a: string, wa: string, wb: string): string {
  const ones = g.op('Add', [g.op('Mul', [a, g.scalarFloat(0)]), g.scalarFloat(1)]);
  const axis = g.scalarInt64(1);
  const mean = g.op('Div', [g.op('CumSum', [a, axis]), g.op('CumSum', [ones, axis])]);
  return g.op('Tanh', [g.op('Add', [g.op('MatMul', [a, wa]), g.op('MatMul', [mean, wb])])]);
}

function firstHalfGraph(w: TinyWeights): Uint8Array {
  const g = new GraphBuilder('tiny-first-half');
  const ids = g.input('ids', DT.INT64, [1, 'seq']);
  const x = g.op('Gather', [g.floats(w.E, [w.vIn, w.d]), g.op('Mod', [ids, g.scalarInt64(w.vIn)])], { axis: A.i(0) });
  const h = g.op('Mul', [mixCausal(g, x, g.floats(w.W1, [w.d, w.d]), g.floats(w.W2, [w.d, w.d])), g.scalarFloat(2)], {}, 'resid');
  g.output(h, DT.FLOAT, [1, 'seq', w.d]);
  return g.toBytes();
}

/** Logits [1, S, vocab] of the second half over residuals `h` [1, S, d]. */
function appendLogits(g: GraphBuilder, w: TinyWeights, h: string): string {
  const gt = mixCausal(g, h, g.floats(w.U1, [w.d, w.d]), g.floats(w.U2, [w.d, w.d]));
  const z = g.op('Mul', [g.op('MatMul', [gt, g.floats(w.Wu, [w.d, w.vocab])]), g.scalarFloat(3)]);
  return g.op('Mul', [g.op('Tanh', [g.op('Div', [z, g.scalarFloat(w.cap)])]), g.scalarFloat(w.cap)]);
}

function secondHalfGraph(w: TinyWeights): Uint8Array {
  const g = new GraphBuilder('tiny-second-half');
  const h = g.input('resid', DT.FLOAT, [1, 'seq', w.d]);
  const nNew = g.input('n_new', DT.INT64, [1]);
  const last = g.op('Slice', [appendLogits(g, w, h), g.op('Neg', [nNew]), g.int64s([2 ** 31]), g.int64s([1])]);
  appendNextTokenHead(g, last, { logProbs: true, kl: true });
  return g.toBytes();
}

/**
 * The same model as bundle files: `<prefix>.onnx` (input "ids" -> output "resid") and `<prefix>-second.onnx`
 * (input "resid" -> output "logits"), with the bundle.json entry pointing at them.
 */
export function writeTinyBundleModel(dir: string, prefix: string, w: TinyWeights): Record<string, unknown> {
  writeFileSync(join(dir, `${prefix}.onnx`), firstHalfGraph(w));
  const g = new GraphBuilder('tiny-logits');
  g.alias(appendLogits(g, w, g.input('resid', DT.FLOAT, [1, 'seq', w.d])), 'logits');
  g.output('logits', DT.FLOAT, [1, 'seq', w.vocab]);
  writeFileSync(join(dir, `${prefix}-second.onnx`), g.toBytes());
  return { name: `tiny-${prefix}`, onnx: `${prefix}.onnx`, output: 'resid', inputs: { inputIds: 'ids' }, secondHalf: { onnx: `${prefix}-second.onnx`, input: 'resid', output: 'logits' } };
}

/** The unembedding is Wu^T [vocab, d]. */
function unembedGraph(w: TinyWeights): Uint8Array {
  const g = new GraphBuilder('tiny-unembed');
  const wuT = new Float32Array(w.vocab * w.d);
  for (let i = 0; i < w.d; i++) for (let v = 0; v < w.vocab; v++) wuT[v * w.d + i] = w.Wu[i * w.vocab + v];
  appendUnembedTopK(g, g.floats(wuT, [w.vocab, w.d]), w.d);
  return g.toBytes();
}

class TinyCache implements KvCache {
  constructor(readonly values: readonly number[], private readonly width: number) {}
  get length(): number {
    return this.values.length / this.width;
  }
  truncate(n: number): KvCache {
    return new TinyCache(this.values.slice(0, n * this.width), this.width);
  }
}

export class TinySplitModel implements SplitModel {
  readonly hasSecondHalf = true;
  readonly dModel: number;
  readonly vocabSize: number;

  private constructor(
    readonly name: string,
    readonly w: TinyWeights,
    private readonly first: ort.InferenceSession,
    private readonly second: ort.InferenceSession,
    private readonly unembed: ort.InferenceSession,
  ) {
    this.dModel = w.d;
    this.vocabSize = w.vocab;
  }

  static async create(name: string, w: TinyWeights): Promise<TinySplitModel> {
    const open = (bytes: Uint8Array) => ort.InferenceSession.create(bytes);
    return new TinySplitModel(name, w, await open(firstHalfGraph(w)), await open(secondHalfGraph(w)), await open(unembedGraph(w)));
  }

  async firstHalf(ids: number[], cache?: KvCache): Promise<{ resid: Float32Array; cache: KvCache }> {
    const all = [...((cache as TinyCache | undefined)?.values ?? []), ...ids];
    const r = await this.first.run({ ids: new ort.Tensor('int64', BigInt64Array.from(all, BigInt), [1, all.length]) });
    const resid = (r.resid.data as Float32Array).slice((all.length - ids.length) * this.dModel);
    return { resid, cache: new TinyCache(all, 1) };
  }

  async secondHalf(resid: Float32Array, cache: KvCache | undefined, request: NextTokenRequest): Promise<{ next: NextTokenResult; cache: KvCache }> {
    const d = this.dModel;
    const all = Float32Array.from([...((cache as TinyCache | undefined)?.values ?? []), ...resid]);
    const S = all.length / d;
    const n = resid.length / d;
    const k = request.topK ?? 0;
    const r = await this.second.run({
      resid: new ort.Tensor('float32', all, [1, S, d]),
      n_new: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]),
      [NEXT_TOKEN.topK]: new ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]),
      [NEXT_TOKEN.klReference]: new ort.Tensor('float32', request.klReference ?? new Float32Array(n * this.vocabSize), [1, n, this.vocabSize]),
    });
    const next: NextTokenResult = {
      argmax: r[NEXT_TOKEN.argmax].data as Int32Array,
      topIds: r[NEXT_TOKEN.topIds].data as Int32Array,
      topLogProbs: r[NEXT_TOKEN.topLogProbs].data as Float32Array,
      ...(request.logProbs ? { logProbs: r[NEXT_TOKEN.logProbs].data as Float32Array } : {}),
      ...(request.klReference ? { kl: r[NEXT_TOKEN.kl].data as Float32Array } : {}),
    };
    return { next, cache: new TinyCache(Array.from(all), d) };
  }

  unembedTopK(vectors: Float32Array, k: number): Promise<TokenEffects> {
    return runUnembedTopK(this.unembed, vectors, this.dModel, k);
  }

  async dispose(): Promise<void> {
    await this.first.release();
    await this.second.release();
    await this.unembed.release();
  }
}

// ---- float64 reference -------------------------------------------------------------------------------

function refMix(a: Float64Array, S: number, d: number, A1: Float32Array, B1: Float32Array): Float64Array {
  const out = new Float64Array(S * d);
  const sum = new Float64Array(d);
  for (let t = 0; t < S; t++) {
    for (let i = 0; i < d; i++) sum[i] += a[t * d + i];
    for (let o = 0; o < d; o++) {
      let v = 0;
      for (let i = 0; i < d; i++) v += a[t * d + i] * A1[i * d + o] + (sum[i] / (t + 1)) * B1[i * d + o];
      out[t * d + o] = Math.tanh(v);
    }
  }
  return out;
}

export function refFirstHalf(w: TinyWeights, ids: readonly number[]): Float64Array {
  const S = ids.length;
  const x = new Float64Array(S * w.d);
  ids.forEach((id, t) => {
    for (let i = 0; i < w.d; i++) x[t * w.d + i] = w.E[(id % w.vIn) * w.d + i];
  });
  return refMix(x, S, w.d, w.W1, w.W2).map((v) => 2 * v);
}

/** Log-probs [S * vocab] of the second half over residuals h [S * d]. */
export function refSecondHalf(w: TinyWeights, h: Float64Array): Float64Array {
  const S = h.length / w.d;
  const g = refMix(h, S, w.d, w.U1, w.U2);
  const out = new Float64Array(S * w.vocab);
  for (let t = 0; t < S; t++) {
    let max = -Infinity;
    for (let v = 0; v < w.vocab; v++) {
      let z = 0;
      for (let i = 0; i < w.d; i++) z += g[t * w.d + i] * w.Wu[i * w.vocab + v];
      const l = w.cap * Math.tanh((3 * z) / w.cap);
      out[t * w.vocab + v] = l;
      max = Math.max(max, l);
    }
    let s = 0;
    for (let v = 0; v < w.vocab; v++) s += Math.exp(out[t * w.vocab + v] - max);
    const lse = max + Math.log(s);
    for (let v = 0; v < w.vocab; v++) out[t * w.vocab + v] -= lse;
  }
  return out;
}

/** KL(P || Q) per position from log-probs [S * vocab]. */
export function refKl(logP: Float64Array, logQ: Float64Array, vocab: number): Float64Array {
  const S = logP.length / vocab;
  const out = new Float64Array(S);
  for (let t = 0; t < S; t++) {
    let s = 0;
    for (let v = 0; v < vocab; v++) s += Math.exp(logP[t * vocab + v]) * (logP[t * vocab + v] - logQ[t * vocab + v]);
    out[t] = s;
  }
  return out;
}
