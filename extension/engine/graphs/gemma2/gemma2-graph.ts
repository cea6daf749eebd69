import { basename } from 'node:path';
import type { TensorRef } from '../../bundle/safetensors';
import type { Gemma2Config } from './gemma2-config';
import type { Gemma2BlockWeights, Gemma2Folder } from './hf-folder';
import { geluTanh, linear, rmsNorm, rotateHalf } from './gemma2-ops';
import { A, DT, GraphBuilder } from '../onnx-builder';
import { floatElemType } from '../external-weights';

export const GEMMA2_INPUTS = ['input_ids', 'attention_mask'] as const;
export const GEMMA2_OUTPUT = 'resid';
export const layerOutputName = (i: number): string => `resid_${i}`;

export interface Gemma2GraphSpec {
  /** Also output the residual stream after every block 0..layer as resid_<i>. */
  allLayers?: boolean;
}

const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * sqrt(hidden_size) as transformers applies it: `torch.tensor(hidden_size ** 0.5, dtype=weights' dtype)`, so
 * rounded to bfloat16 / float16 when the embedding is stored that way (sqrt(3072) becomes 55.5 in bf16).
 */
export function embeddingScale(hiddenSize: number, dtype: TensorRef['dtype']): number {
  const f = Math.fround(Math.sqrt(hiddenSize));
  if (dtype === 'BF16') {
    const u = new Uint32Array(new Float32Array([f]).buffer)[0];
    const rounded = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
    return new Float32Array(new Uint32Array([rounded >>> 0]).buffer)[0];
  }
  if (dtype === 'F16') {
    const ulp = 2 ** (Math.floor(Math.log2(f)) - 10);
    return Math.round(f / ulp) * ulp;
  }
  return f;
}

/** The per-request tensors every block shares: shapes, the two attention biases, RoPE's cos and sin. */
interface Shared {
  bt: string;
  fullBias: string;
  slidingBias: string;
  cos: string;
  sin: string;
}

/**
 * Builds the ONNX graph of a Gemma 2 model from `input_ids` [B, T] and `attention_mask` [B, T] (1 = token,
 * 0 = padding, left or right) to the residual stream after block `layer` ([B, T, hidden], float32). Follows
 * transformers' Gemma2Model (eager attention); positions come from the mask (cumsum - 1) so padding does not
 * shift them. Every weight is an external-data reference into the folder's safetensors files.
 */
export function buildGemma2GraphBytes(folder: Gemma2Folder, spec: Gemma2GraphSpec = {}): Uint8Array {
  const c = folder.config;
  const layer = folder.blocks.length - 1;
  const g = new GraphBuilder(`gemma2-${basename(folder.dir)}-l${layer}`);
  const ids = g.input(GEMMA2_INPUTS[0], DT.INT64, ['batch', 'seq']);
  const mask = g.input(GEMMA2_INPUTS[1], DT.INT64, ['batch', 'seq']);
  const shared = sharedTensors(g, c, ids, mask);

  const embedW = g.external({ location: basename(folder.embed.file), offset: folder.embed.offset, length: folder.embed.byteLength, elemType: floatElemType(folder.embed), dims: folder.embed.shape }, folder.embed.name);
  let rows = g.op('Gather', [embedW, g.op('Reshape', [ids, g.int64s([-1])])], { axis: A.i(0) });
  if (folder.embed.dtype !== 'F32') rows = g.op('Cast', [rows], { to: A.i(DT.FLOAT) });
  let h = g.op('Mul', [rows, g.scalarFloat(embeddingScale(c.hiddenSize, folder.embed.dtype))]);

  const toBTH = (x: string, name: string) => g.op('Reshape', [x, g.op('Concat', [shared.bt, g.int64s([c.hiddenSize])], { axis: A.i(0) })], {}, name);
  folder.blocks.forEach((w, i) => {
    h = block(g, c, w, h, i, shared);
    if (spec.allLayers) toBTH(h, layerOutputName(i));
  });
  toBTH(h, GEMMA2_OUTPUT);
  if (spec.allLayers) for (let i = 0; i <= layer; i++) g.output(layerOutputName(i), DT.FLOAT, ['batch', 'seq', c.hiddenSize]);
  g.output(GEMMA2_OUTPUT, DT.FLOAT, ['batch', 'seq', c.hiddenSize]);
  return g.toBytes();
}

function sharedTensors(g: GraphBuilder, c: Gemma2Config, ids: string, mask: string): Shared {
  const bt = g.op('Shape', [ids]);
  const T = g.op('Gather', [bt, g.scalarInt64(1)], { axis: A.i(0) });
  const idx = g.op('Range', [g.scalarInt64(0), T, g.scalarInt64(1)]);
  const query = g.op('Unsqueeze', [idx, g.int64s([1])]);
  const key = g.op('Unsqueeze', [idx, g.int64s([0])]);
  // allowed[b, 0, 0, i, j]: key j is a real token at or before query i (and, sliding, within the window)
  const keyIsToken = g.op('Unsqueeze', [g.op('Cast', [mask], { to: A.i(DT.BOOL) }), g.int64s([1, 2, 3])]);
  const full = g.op('And', [g.op('LessOrEqual', [key, query]), keyIsToken]);
  const inWindow = g.op('Greater', [key, g.op('Sub', [query, g.scalarInt64(c.slidingWindow)])]);
  const sliding = g.op('And', [full, inWindow]);
  const bias = (allowed: string) => g.op('Where', [allowed, g.scalarFloat(0), g.scalarFloat(FLOAT32_MIN)]);

  // positions as transformers' generate() derives them from the mask: cumsum - 1 (pads get 1, unused)
  const pos = g.op('Sub', [g.op('CumSum', [mask, g.scalarInt64(1)]), g.scalarInt64(1)]);
  const posF = g.op('Cast', [g.op('Where', [g.op('Equal', [mask, g.scalarInt64(0)]), g.scalarInt64(1), pos])], { to: A.i(DT.FLOAT) });
  const half = c.headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / Math.fround(c.ropeTheta ** Math.fround((2 * i) / c.headDim)));
  const freqs = g.op('Mul', [g.op('Unsqueeze', [posF, g.int64s([2])]), g.floats(invFreq, [half])]);
  const angles = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: A.i(-1) }), g.int64s([2, 3])]); // [B, T, 1, 1, hd]
  return { bt, fullBias: bias(full), slidingBias: bias(sliding), cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
}

/** One decoder block on the flattened residual stream h [B*T, hidden]. */
function block(g: GraphBuilder, c: Gemma2Config, w: Gemma2BlockWeights, h: string, i: number, s: Shared): string {
  const attn = attention(g, c, w, rmsNorm(g, h, w.inputNorm, c.rmsNormEps), c.slidingLayers[i] ? s.slidingBias : s.fullBias, s);
  const h1 = g.op('Add', [h, rmsNorm(g, attn, w.postAttnNorm, c.rmsNormEps)]);
  const x = rmsNorm(g, h1, w.preFfnNorm, c.rmsNormEps);
  const mlp = linear(g, g.op('Mul', [geluTanh(g, linear(g, x, w.gate)), linear(g, x, w.up)]), w.down);
  return g.op('Add', [h1, rmsNorm(g, mlp, w.postFfnNorm, c.rmsNormEps)]);
}

/**
 * Grouped-query attention without copying keys/values per query head: queries are viewed as
 * [B, kvHeads, group, T, hd] and keys/values as [B, kvHeads, 1, T, hd], so MatMul broadcasts over the group.
 */
function attention(g: GraphBuilder, c: Gemma2Config, w: Gemma2BlockWeights, x: string, bias: string, s: Shared): string {
  const group = c.numHeads / c.numKvHeads;
  const shape = (dims: number[]) => g.op('Concat', [s.bt, g.int64s(dims)], { axis: A.i(0) });
  const rope = (t: string) => g.op('Add', [g.op('Mul', [t, s.cos]), g.op('Mul', [rotateHalf(g, t, c.headDim), s.sin])]);
  const q = rope(g.op('Reshape', [linear(g, x, w.q), shape([c.numKvHeads, group, c.headDim])]));
  const k = rope(g.op('Reshape', [linear(g, x, w.k), shape([c.numKvHeads, 1, c.headDim])]));
  const v = g.op('Reshape', [linear(g, x, w.v), shape([c.numKvHeads, 1, c.headDim])]);

  const qT = g.op('Transpose', [q], { perm: A.ints([0, 2, 3, 1, 4]) }); // [B, kv, group, T, hd]
  const kT = g.op('Transpose', [k], { perm: A.ints([0, 2, 3, 4, 1]) }); // [B, kv, 1, hd, T]
  const vT = g.op('Transpose', [v], { perm: A.ints([0, 2, 3, 1, 4]) }); // [B, kv, 1, T, hd]
  let scores = g.op('Mul', [g.op('MatMul', [qT, kT]), g.scalarFloat(c.queryPreAttnScalar ** -0.5)]);
  if (c.attnLogitSoftcap !== null) {
    const cap = g.scalarFloat(c.attnLogitSoftcap);
    scores = g.op('Mul', [g.op('Tanh', [g.op('Div', [scores, cap])]), cap]);
  }
  const probs = g.op('Softmax', [g.op('Add', [scores, bias])], { axis: A.i(-1) });
  const out = g.op('Transpose', [g.op('MatMul', [probs, vT])], { perm: A.ints([0, 3, 1, 2, 4]) }); // [B, T, kv, group, hd]
  return linear(g, g.op('Reshape', [out, g.int64s([-1, c.numHeads * c.headDim])]), w.o);
}
