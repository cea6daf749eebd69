import { basename } from 'node:path';
import type { TensorRef } from '../../bundle/safetensors';
import type { Gemma2Config } from './gemma2-config';
import type { Gemma2BlockWeights, Gemma2Folder } from './hf-folder';
import { geluTanh, linear, rmsNorm, rotateHalf } from './gemma2-ops';
import { A, DT, GraphBuilder } from '../onnx-builder';
import { floatElemType } from '../external-weights';
import { appendNextTokenHead, type NextTokenHeadSpec } from '../next-token-head';

/** First half's inputs: token ids [B, T] and the attention mask [B, P + T] (past positions first). */
export const GEMMA2_INPUTS = ['input_ids', 'attention_mask'] as const;
/** Second half's inputs: the residual stream after block `layer` [B, T, hidden] and the same mask. */
export const GEMMA2_SECOND_INPUTS = ['resid', 'attention_mask'] as const;
export const GEMMA2_OUTPUT = 'resid';
export const layerOutputName = (i: number): string => `resid_${i}`;
/** Key/value cache tensors of model block i, [B, positions, kvHeads, headDim] (keys after RoPE). */
export const pastKeyName = (i: number): string => `past_key.${i}`;
export const pastValueName = (i: number): string => `past_value.${i}`;
/** The keys/values of the call's new positions only; the caller appends them to its cache. */
export const newKeyName = (i: number): string => `new_key.${i}`;
export const newValueName = (i: number): string => `new_value.${i}`;

export interface Gemma2GraphSpec {
  /** First half: also output the residual stream after every block 0..layer as resid_<i>. */
  allLayers?: boolean;
  /**
   * Take past keys/values per block and output the new positions' keys/values. A full-attention block's
   * past holds all P earlier positions; every sliding-window block's past holds the same number of the
   * latest positions, at least min(P, sliding_window - 1) (what the window can see) and at most P. The
   * mask always spans all P + T positions.
   */
  kv?: boolean;
  /** Second half: the next-token outputs (next-token-head.ts). */
  head?: NextTokenHeadSpec;
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

interface BlockPast {
  key: string;
  value: string;
}

/**
 * Builds the ONNX graph of one half of a Gemma 2 model split after block `layer` (the folder says which):
 * - first half: `input_ids` and `attention_mask` -> the residual stream after block `layer` ([B, T, hidden]);
 * - second half: `resid` (that residual, possibly edited) and `attention_mask` -> blocks layer+1..N-1, the
 *   final RMSNorm, the unembedding and the final logit soft-capping, then the next-token head.
 * Follows transformers' Gemma2Model (eager attention). The mask is 1 = token, 0 = padding (left or right);
 * positions come from it (cumsum - 1) so padding does not shift them. With spec.kv the mask covers the past
 * positions too. Every weight is an external-data reference into the folder's safetensors files.
 */
export function buildGemma2GraphBytes(folder: Gemma2Folder, spec: Gemma2GraphSpec = {}): Uint8Array {
  const c = folder.config;
  const last = folder.firstBlock + folder.blocks.length - 1;
  const half = folder.embed ? 'first' : 'second';
  const g = new GraphBuilder(`gemma2-${basename(folder.dir)}-${half}-b${folder.firstBlock}-${last}`);
  let h: string;
  let bt: string;
  if (folder.embed) {
    const ids = g.input(GEMMA2_INPUTS[0], DT.INT64, ['batch', 'seq']);
    bt = g.op('Shape', [ids]);
    h = embedTokens(g, folder.embed, c, ids);
  } else {
    const resid = g.input(GEMMA2_SECOND_INPUTS[0], DT.FLOAT, ['batch', 'seq', c.hiddenSize]);
    bt = g.op('Slice', [g.op('Shape', [resid]), g.int64s([0]), g.int64s([2])]);
    h = g.op('Reshape', [resid, g.int64s([-1, c.hiddenSize])]);
  }
  const mask = g.input(GEMMA2_INPUTS[1], DT.INT64, ['batch', spec.kv ? 'total_seq' : 'seq']);
  const pasts: (BlockPast | undefined)[] = folder.blocks.map((_, j) => {
    if (!spec.kv) return undefined;
    const i = folder.firstBlock + j;
    const dims = ['batch', c.slidingLayers[i] ? 'past_window' : 'past_seq', c.numKvHeads, c.headDim];
    return { key: g.input(pastKeyName(i), DT.FLOAT, dims), value: g.input(pastValueName(i), DT.FLOAT, dims) };
  });
  const slidingPast = pasts.find((p, j) => p && c.slidingLayers[folder.firstBlock + j]);
  const shared = sharedTensors(g, c, bt, mask, slidingPast?.key);

  const toBTH = (x: string, name: string) => g.op('Reshape', [x, g.op('Concat', [shared.bt, g.int64s([c.hiddenSize])], { axis: A.i(0) })], {}, name);
  folder.blocks.forEach((w, j) => {
    const i = folder.firstBlock + j;
    const out = block(g, c, w, h, i, shared, pasts[j]);
    h = out.h;
    if (spec.kv) {
      const kvDims = ['batch', 'seq', c.numKvHeads, c.headDim];
      g.op('Squeeze', [out.key, g.int64s([3])], {}, newKeyName(i));
      g.op('Squeeze', [out.value, g.int64s([3])], {}, newValueName(i));
      g.output(newKeyName(i), DT.FLOAT, kvDims);
      g.output(newValueName(i), DT.FLOAT, kvDims);
    }
    if (spec.allLayers && folder.embed) {
      toBTH(h, layerOutputName(i));
      g.output(layerOutputName(i), DT.FLOAT, ['batch', 'seq', c.hiddenSize]);
    }
  });
  if (folder.embed) {
    toBTH(h, GEMMA2_OUTPUT);
    g.output(GEMMA2_OUTPUT, DT.FLOAT, ['batch', 'seq', c.hiddenSize]);
  } else {
    const head = folder.head!;
    let logits = linear(g, rmsNorm(g, h, head.finalNorm, c.rmsNormEps), head.unembed);
    if (c.finalLogitSoftcap !== null) logits = softcap(g, logits, c.finalLogitSoftcap);
    const shape = g.op('Concat', [shared.bt, g.int64s([c.vocabSize])], { axis: A.i(0) });
    appendNextTokenHead(g, g.op('Reshape', [logits, shape]), spec.head);
  }
  return g.toBytes();
}

/** The embedding rows of `ids`, in float32, times sqrt(hidden_size): [B*T, hidden]. */
function embedTokens(g: GraphBuilder, embed: TensorRef, c: Gemma2Config, ids: string): string {
  const embedW = g.external({ location: basename(embed.file), offset: embed.offset, length: embed.byteLength, elemType: floatElemType(embed), dims: embed.shape }, embed.name);
  let rows = g.op('Gather', [embedW, g.op('Reshape', [ids, g.int64s([-1])])], { axis: A.i(0) });
  if (embed.dtype !== 'F32') rows = g.op('Cast', [rows], { to: A.i(DT.FLOAT) });
  return g.op('Mul', [rows, g.scalarFloat(embeddingScale(c.hiddenSize, embed.dtype))]);
}

/** tanh(x / cap) * cap, as Gemma 2 caps attention logits and final logits. */
function softcap(g: GraphBuilder, x: string, cap: number): string {
  const k = g.scalarFloat(cap);
  return g.op('Mul', [g.op('Tanh', [g.op('Div', [x, k])]), k]);
}

/**
 * Attention biases and RoPE angles for the T new positions, which are the last T columns of the mask
 * [B, L = P + T]. Query at column q may see key column k when k <= q and k is a token; sliding blocks also
 * need k > q - window. Their keys cover only the last (past_window + T) columns, so their bias is cut to those.
 */
function sharedTensors(g: GraphBuilder, c: Gemma2Config, bt: string, mask: string, slidingPastKey: string | undefined): Shared {
  const dim = (shape: string, i: number) => g.op('Gather', [shape, g.scalarInt64(i)], { axis: A.i(0) });
  const T = dim(bt, 1);
  const L = dim(g.op('Shape', [mask]), 1);
  const P = g.op('Sub', [L, T]);
  const query = g.op('Unsqueeze', [g.op('Range', [P, L, g.scalarInt64(1)]), g.int64s([1])]);
  const key = g.op('Unsqueeze', [g.op('Range', [g.scalarInt64(0), L, g.scalarInt64(1)]), g.int64s([0])]);
  // allowed[b, 0, 0, i, j]: key column j is a real token at or before query i (and, sliding, within the window)
  const keyIsToken = g.op('Unsqueeze', [g.op('Cast', [mask], { to: A.i(DT.BOOL) }), g.int64s([1, 2, 3])]);
  const full = g.op('And', [g.op('LessOrEqual', [key, query]), keyIsToken]);
  const inWindow = g.op('Greater', [key, g.op('Sub', [query, g.scalarInt64(c.slidingWindow)])]);
  let sliding = g.op('And', [full, inWindow]);
  const vec = (x: string) => g.op('Unsqueeze', [x, g.int64s([0])]);
  if (slidingPastKey) {
    const kept = g.op('Add', [dim(g.op('Shape', [slidingPastKey]), 1), T]);
    sliding = g.op('Slice', [sliding, vec(g.op('Sub', [L, kept])), vec(L), g.int64s([-1])]);
  }
  const bias = (allowed: string) => g.op('Where', [allowed, g.scalarFloat(0), g.scalarFloat(FLOAT32_MIN)]);

  // positions as transformers' generate() derives them from the mask: cumsum - 1 (pads get 1, unused)
  const cum = g.op('Sub', [g.op('CumSum', [mask, g.scalarInt64(1)]), g.scalarInt64(1)]);
  const allPos = g.op('Where', [g.op('Equal', [mask, g.scalarInt64(0)]), g.scalarInt64(1), cum]);
  const posF = g.op('Cast', [g.op('Slice', [allPos, vec(P), vec(L), g.int64s([1])])], { to: A.i(DT.FLOAT) });
  const half = c.headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / Math.fround(c.ropeTheta ** Math.fround((2 * i) / c.headDim)));
  const freqs = g.op('Mul', [g.op('Unsqueeze', [posF, g.int64s([2])]), g.floats(invFreq, [half])]);
  const angles = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: A.i(-1) }), g.int64s([2, 3])]); // [B, T, 1, 1, hd]
  return { bt, fullBias: bias(full), slidingBias: bias(sliding), cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
}

/** One decoder block on the flattened residual stream h [B*T, hidden]; also gives the new positions' keys/values. */
function block(g: GraphBuilder, c: Gemma2Config, w: Gemma2BlockWeights, h: string, i: number, s: Shared, past: BlockPast | undefined): { h: string; key: string; value: string } {
  const attn = attention(g, c, w, rmsNorm(g, h, w.inputNorm, c.rmsNormEps), c.slidingLayers[i] ? s.slidingBias : s.fullBias, s, past);
  const h1 = g.op('Add', [h, rmsNorm(g, attn.out, w.postAttnNorm, c.rmsNormEps)]);
  const x = rmsNorm(g, h1, w.preFfnNorm, c.rmsNormEps);
  const mlp = linear(g, g.op('Mul', [geluTanh(g, linear(g, x, w.gate)), linear(g, x, w.up)]), w.down);
  return { h: g.op('Add', [h1, rmsNorm(g, mlp, w.postFfnNorm, c.rmsNormEps)]), key: attn.key, value: attn.value };
}

/**
 * Grouped-query attention without copying keys/values per query head: queries are viewed as
 * [B, kvHeads, group, T, hd] and keys/values as [B, kvHeads, 1, P + T, hd], so MatMul broadcasts over the
 * group. Returns the output and the new positions' keys (after RoPE) and values, [B, T, kvHeads, 1, hd].
 */
function attention(g: GraphBuilder, c: Gemma2Config, w: Gemma2BlockWeights, x: string, bias: string, s: Shared, past: BlockPast | undefined): { out: string; key: string; value: string } {
  const group = c.numHeads / c.numKvHeads;
  const shape = (dims: number[]) => g.op('Concat', [s.bt, g.int64s(dims)], { axis: A.i(0) });
  const rope = (t: string) => g.op('Add', [g.op('Mul', [t, s.cos]), g.op('Mul', [rotateHalf(g, t, c.headDim), s.sin])]);
  const q = rope(g.op('Reshape', [linear(g, x, w.q), shape([c.numKvHeads, group, c.headDim])]));
  const k = rope(g.op('Reshape', [linear(g, x, w.k), shape([c.numKvHeads, 1, c.headDim])]));
  const v = g.op('Reshape', [linear(g, x, w.v), shape([c.numKvHeads, 1, c.headDim])]);
  const withPast = (pastT: string | undefined, t: string) => (pastT ? g.op('Concat', [g.op('Unsqueeze', [pastT, g.int64s([3])]), t], { axis: A.i(1) }) : t);

  const qT = g.op('Transpose', [q], { perm: A.ints([0, 2, 3, 1, 4]) }); // [B, kv, group, T, hd]
  const kT = g.op('Transpose', [withPast(past?.key, k)], { perm: A.ints([0, 2, 3, 4, 1]) }); // [B, kv, 1, hd, P+T]
  const vT = g.op('Transpose', [withPast(past?.value, v)], { perm: A.ints([0, 2, 3, 1, 4]) }); // [B, kv, 1, P+T, hd]
  let scores = g.op('Mul', [g.op('MatMul', [qT, kT]), g.scalarFloat(c.queryPreAttnScalar ** -0.5)]);
  if (c.attnLogitSoftcap !== null) scores = softcap(g, scores, c.attnLogitSoftcap);
  const probs = g.op('Softmax', [g.op('Add', [scores, bias])], { axis: A.i(-1) });
  const out = g.op('Transpose', [g.op('MatMul', [probs, vT])], { perm: A.ints([0, 3, 1, 2, 4]) }); // [B, T, kv, group, hd]
  return { out: linear(g, g.op('Reshape', [out, g.int64s([-1, c.numHeads * c.headDim])]), w.o), key: k, value: v };
}
