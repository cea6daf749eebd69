import { LatentDiffError } from '../errors';
import type { CrosscoderCheckpoint, LatentMetrics } from '../types';
import { checkCrosscoderShapes, readDecoderBias, readEncoderBias, rejectDecoupled } from './crosscoder-tensors';
import { externalFloat } from './external-weights';
import { A, DT, GraphBuilder } from './onnx-builder';

/**
 * Which outputs an encode graph has. Defaults: top, summary and selected on; raw and recon off.
 * - top: `top_values` [T,K] float, `top_indices` [T,K] int64 (per-token top-k of scaled activations, descending)
 * - summary: `latent_max` [D] float, `latent_count` [D] int32 (tokens with a > 0), `latent_argmax` [D] int64
 *   (first token holding the max; 0 for a latent that never fires)
 * - selected: input `select` int64 [S] (S may be 0), output `selected` [T,S] scaled activations of those latents
 * - raw: `raw` [T,D] raw activations f (after the BatchTopK threshold), what Latent Scaling uses
 * - recon: `recon_base`, `recon_chat` [T,d]: per-model reconstructions f @ W_dec[m] + b_dec[m]
 */
export interface EncodeOutputs {
  top?: boolean;
  summary?: boolean;
  selected?: boolean;
  raw?: boolean;
  recon?: boolean;
}

export interface EncodeGraphOptions {
  /** K of the per-token top-k (1..D); needed when outputs.top is on. */
  topK: number;
  outputs?: EncodeOutputs;
}

export interface BuiltGraph {
  bytes: Uint8Array;
  /** Files the graph's external data lives in (all in one folder; see place-graph.ts). */
  weightFiles: string[];
}

const DEFAULT_OUTPUTS: Required<EncodeOutputs> = { top: true, summary: true, selected: true, raw: false, recon: false };

export function resolveEncodeOutputs(outputs: EncodeOutputs = {}): Required<EncodeOutputs> {
  return { ...DEFAULT_OUTPUTS, ...outputs };
}

/** Appends x̂^m = f @ W_dec[m] + b_dec[m] for both models, named outNames = [base, chat]. */
function appendDecode(g: GraphBuilder, ckpt: CrosscoderCheckpoint, f: string, outNames: [string, string]): void {
  const d = ckpt.dModel;
  const D = ckpt.dictSize;
  const bias = readDecoderBias(ckpt);
  if (ckpt.decoderLayout === 'LDd') {
    for (const m of [0, 1]) {
      const w = externalFloat(g, ckpt.decoderWeight, m * D * d, [D, d], `w_dec_${m}`);
      g.op('Gemm', [f, w, g.floats(bias.subarray(m * d, (m + 1) * d), [d], `b_dec_${m}`)], {}, outNames[m]);
    }
  } else {
    // [D, 2, d] is contiguous as [D, 2d]: one product, then split into the two models' halves.
    const w = externalFloat(g, ckpt.decoderWeight, 0, [D, 2 * d], 'w_dec');
    const both = g.op('Gemm', [f, w, g.floats(bias, [2 * d], 'b_dec')]);
    g.opN('Split', [both, g.int64s([d, d])], 2, { axis: A.i(1) }, outNames);
  }
}

/** Block sizes tried for appendTokenMax; the chosen one divides T, so T = blocks * B exactly. */
const MAX_BLOCK = 32;

/**
 * Per latent (column of a [T,D]): the max over tokens and the FIRST token holding it. ORT's ArgMax over axis 0
 * walks each column with a stride of D floats (measured 2-3x slower than this two-level form at T=256): a [T,D]
 * is viewed as [T/B, B, D] (a reshape, no copy), ReduceMax over the B axis (one vectorised pass), then ArgMax over
 * the T/B block maxima finds the first block holding the max, and ArgMax over that block's B rows the first row in
 * it. B is the divisor of T in 1..MAX_BLOCK minimising the measured strided cost 2T/B + B, chosen in the graph.
 */
function appendTokenMax(g: GraphBuilder, a: string, T: string, D: number, maxName: string, argmaxName: string): void {
  const cands = g.int64s(Array.from({ length: MAX_BLOCK }, (_, i) => i + 1));
  const divides = g.op('Equal', [g.op('Mod', [T, cands]), g.scalarInt64(0)]);
  const cost = g.op('Add', [g.op('Mul', [g.op('Div', [T, cands]), g.scalarInt64(2)]), cands]);
  const penalised = g.op('Cast', [g.op('Where', [divides, cost, g.scalarInt64(1 << 30)])], { to: A.i(DT.FLOAT) });
  const B = g.op('Gather', [cands, g.op('ArgMin', [penalised], { axis: A.i(0), keepdims: A.i(1) })], { axis: A.i(0) });
  const Dv = g.int64s([D]);
  const a3 = g.op('Reshape', [a, g.op('Concat', [g.op('Div', [T, B]), B, Dv], { axis: A.i(0) })]);
  const blockMax = g.op('ReduceMax', [a3], { axes: A.ints([1]), keepdims: A.i(0) });
  const firstBlock = g.op('ArgMax', [blockMax], { axis: A.i(0), keepdims: A.i(1) });
  const index = g.op('Expand', [g.op('Unsqueeze', [firstBlock, g.int64s([1])]), g.op('Concat', [g.int64s([1]), B, Dv], { axis: A.i(0) })]);
  const rows = g.op('GatherElements', [a3, index], { axis: A.i(0) });
  const inBlock = g.op('ArgMax', [rows], { axis: A.i(1), keepdims: A.i(0) });
  const flat = (v: string) => g.op('Reshape', [v, Dv]);
  g.op('Add', [g.op('Mul', [flat(firstBlock), B]), flat(inBlock)], {}, argmaxName);
  g.op('Reshape', [g.op('GatherElements', [rows, g.op('Unsqueeze', [inBlock, g.int64s([1])])], { axis: A.i(1) }), Dv], {}, maxName);
}

/**
 * Per latent: the number of tokens with a > 0, as int32 [D]. The 0/1 indicator is built as uint8 (Cast to bool,
 * then to uint8) and summed over tokens by MatMulInteger with a row of ones: about half the memory traffic of
 * a float indicator and ReduceSum (measured ~2x faster at T=256, D=73,728), exact in int32.
 */
function appendActiveCount(g: GraphBuilder, a: string, T: string, D: number, countName: string): void {
  const active = g.op('Cast', [g.op('Cast', [a], { to: A.i(DT.BOOL) })], { to: A.i(DT.UINT8) });
  const one = A.t({ dataType: DT.UINT8, dims: [1], rawData: Uint8Array.of(1) });
  const ones = g.op('ConstantOfShape', [g.op('Concat', [g.int64s([1]), T], { axis: A.i(0) })], { value: one });
  g.op('Reshape', [g.op('MatMulInteger', [ones, active]), g.int64s([D])], {}, countName);
}

/**
 * The crosscoder encoder (method.md 2.2, 2.3) as an ONNX graph over external weights. Inputs `x_base`, `x_chat`
 * float [T,d], T >= 1 (the runner never runs an empty chunk). Scaled activations a = f * s; for BatchTopK the stored threshold keeps a where a > threshold.
 * The encoder weight [2,d,D] is contiguous as [2d,D], so one Gemm over the concatenated input does both models.
 */
export function buildEncodeGraph(ckpt: CrosscoderCheckpoint, metrics: LatentMetrics, opts: EncodeGraphOptions): BuiltGraph {
  checkCrosscoderShapes(ckpt);
  rejectDecoupled(ckpt);
  const out = resolveEncodeOutputs(opts.outputs);
  const d = ckpt.dModel;
  const D = ckpt.dictSize;
  if (metrics.dictSize !== D || metrics.scale.length !== D) throw new Error(`buildEncodeGraph: metrics are for ${metrics.dictSize} latents, checkpoint has ${D}`);
  if (out.top && !(Number.isInteger(opts.topK) && opts.topK >= 1 && opts.topK <= D)) {
    throw new LatentDiffError(undefined, `top-k must be an integer from 1 to ${D} (the number of latents), got ${opts.topK}`, 'invalid-setting');
  }
  let threshold = 0;
  if (ckpt.kind === 'batchtopk') {
    if (typeof ckpt.threshold !== 'number' || !Number.isFinite(ckpt.threshold)) throw new LatentDiffError(ckpt.file, 'BatchTopK crosscoder without a finite "threshold" tensor: cannot encode at inference');
    threshold = ckpt.threshold;
  }

  const g = new GraphBuilder('crosscoder-encode');
  const xBase = g.input('x_base', DT.FLOAT, ['T', d]);
  const xChat = g.input('x_chat', DT.FLOAT, ['T', d]);
  const x = g.op('Concat', [xBase, xChat], { axis: A.i(1) });
  const wEnc = externalFloat(g, ckpt.encoderWeight, 0, [2 * d, D], 'w_enc');
  const pre = g.op('Gemm', [x, wEnc, g.floats(readEncoderBias(ckpt), [D], 'b_enc')]);
  const s = ckpt.codeNormalization === 'none' ? undefined : g.floats(metrics.scale, [D], 'scale');
  const scaled = (v: string) => (s ? g.op('Mul', [v, s]) : v);

  let a: string;
  let raw: string | undefined;
  if (out.raw || out.recon) {
    // Exact form with the raw codes: f' = f * 1[f*s > threshold], a = f' * s.
    const f = g.op('Relu', [pre]);
    const aFull = scaled(f);
    if (ckpt.kind === 'batchtopk') {
      const keep = g.op('Greater', [aFull, g.scalarFloat(threshold)]);
      const zero = g.scalarFloat(0);
      a = g.op('Where', [keep, aFull, zero]);
      raw = g.op('Where', [keep, f, zero]);
    } else {
      a = aFull;
      raw = f;
    }
  } else if (ckpt.kind === 'batchtopk') {
    // s >= 0, so pre*s > max(threshold, 0) holds exactly where f > 0 and f*s > threshold: one pass for ReLU + threshold.
    a = g.op('ThresholdedRelu', [scaled(pre)], { alpha: A.f(Math.max(threshold, 0)) });
  } else {
    a = scaled(g.op('Relu', [pre]));
  }

  if (out.top) {
    g.opN('TopK', [a, g.int64s([opts.topK])], 2, { axis: A.i(1), largest: A.i(1), sorted: A.i(1) }, ['top_values', 'top_indices']);
    g.output('top_values', DT.FLOAT, ['T', opts.topK]);
    g.output('top_indices', DT.INT64, ['T', opts.topK]);
  }
  if (out.summary) {
    const T = g.op('Gather', [g.op('Shape', [a]), g.int64s([0])], { axis: A.i(0) });
    appendTokenMax(g, a, T, D, 'latent_max', 'latent_argmax');
    appendActiveCount(g, a, T, D, 'latent_count');
    g.output('latent_max', DT.FLOAT, [D]);
    g.output('latent_count', DT.INT32, [D]);
    g.output('latent_argmax', DT.INT64, [D]);
  }
  if (out.selected) {
    const select = g.input('select', DT.INT64, ['S']);
    g.op('Gather', [a, select], { axis: A.i(1) }, 'selected');
    g.output('selected', DT.FLOAT, ['T', 'S']);
  }
  if (out.raw && raw) {
    g.alias(raw, 'raw');
    g.output('raw', DT.FLOAT, ['T', D]);
  }
  if (out.recon && raw) {
    appendDecode(g, ckpt, raw, ['recon_base', 'recon_chat']);
    g.output('recon_base', DT.FLOAT, ['T', d]);
    g.output('recon_chat', DT.FLOAT, ['T', d]);
  }
  return { bytes: g.toBytes(), weightFiles: [ckpt.file] };
}

/** Per-model reconstructions from raw activations: input `f` float [T,D], outputs `recon_base`, `recon_chat` [T,d]. */
export function buildDecodeGraph(ckpt: CrosscoderCheckpoint): BuiltGraph {
  checkCrosscoderShapes(ckpt);
  const g = new GraphBuilder('crosscoder-decode');
  const f = g.input('f', DT.FLOAT, ['T', ckpt.dictSize]);
  appendDecode(g, ckpt, f, ['recon_base', 'recon_chat']);
  g.output('recon_base', DT.FLOAT, ['T', ckpt.dModel]);
  g.output('recon_chat', DT.FLOAT, ['T', ckpt.dModel]);
  return { bytes: g.toBytes(), weightFiles: [ckpt.file] };
}
