import type { CrosscoderCheckpoint } from '../types';
import { checkCrosscoderShapes } from './crosscoder-tensors';
import { externalFloat } from './external-weights';
import { A, DT, GraphBuilder } from './onnx-builder';

/** Outputs of the metrics graph, all float32 [D]: sums of squares per model and the dot product of the two models' vectors. */
export const METRICS_OUTPUTS = ['dec_ss_base', 'dec_ss_chat', 'dec_dot', 'enc_ss_base', 'enc_ss_chat', 'enc_dot'] as const;
export type MetricsOutput = (typeof METRICS_OUTPUTS)[number];

export interface MetricsGraphOptions {
  /** Elements of one weight slice reduced at a time; bounds the graph's temporaries (default 16M = 64 MB of float32). */
  chunkElements?: number;
}

function chunks(total: number, rowElements: number, chunkElements: number): [number, number][] {
  const rows = Math.max(1, Math.floor(chunkElements / rowElements));
  const out: [number, number][] = [];
  for (let r = 0; r < total; r += rows) out.push([r, Math.min(total, r + rows)]);
  return out;
}

/**
 * A graph with no inputs that reduces the crosscoder's decoder and encoder weights (external data, read in
 * slices so the temporaries stay small) to per-latent sums of squares and cross-model dot products.
 * The JS side finishes norms, cosines and Delta-norm in float64 (latents/metrics.ts).
 */
export function buildMetricsGraph(ckpt: CrosscoderCheckpoint, opts: MetricsGraphOptions = {}): { bytes: Uint8Array; weightFiles: string[] } {
  checkCrosscoderShapes(ckpt);
  const chunkElements = opts.chunkElements ?? 1 << 24;
  const d = ckpt.dModel;
  const D = ckpt.dictSize;
  const g = new GraphBuilder('latent-metrics');
  const ax = (v: number[]) => g.int64s(v);
  const sumSquares = (x: string, axis: number) => g.op('ReduceSumSquare', [x], { axes: A.ints([axis]), keepdims: A.i(0) });
  const dot = (x: string, y: string, axis: number) => g.op('ReduceSum', [g.op('Mul', [x, y]), ax([axis])], { keepdims: A.i(0) });

  // Decoder: per latent j, the rows d_j^base and d_j^chat; slices over j.
  const dec: Record<'ssBase' | 'ssChat' | 'dot', string[]> = { ssBase: [], ssChat: [], dot: [] };
  for (const [j0, j1] of chunks(D, 2 * d, chunkElements)) {
    const n = j1 - j0;
    let base: string;
    let chat: string;
    if (ckpt.decoderLayout === 'LDd') {
      base = externalFloat(g, ckpt.decoderWeight, j0 * d, [n, d]);
      chat = externalFloat(g, ckpt.decoderWeight, (D + j0) * d, [n, d]);
    } else {
      const both = externalFloat(g, ckpt.decoderWeight, j0 * 2 * d, [n, 2, d]);
      const [b3, c3] = g.opN('Split', [both, ax([1, 1])], 2, { axis: A.i(1) });
      base = g.op('Reshape', [b3, ax([n, d])]);
      chat = g.op('Reshape', [c3, ax([n, d])]);
    }
    dec.ssBase.push(sumSquares(base, 1));
    dec.ssChat.push(sumSquares(chat, 1));
    dec.dot.push(dot(base, chat, 1));
  }
  const concat = (parts: string[], name: string) => g.op('Concat', parts, { axis: A.i(0) }, name);
  concat(dec.ssBase, 'dec_ss_base');
  concat(dec.ssChat, 'dec_ss_chat');
  concat(dec.dot, 'dec_dot');

  // Encoder [2, d, D]: per latent j, the columns W_enc^m[:, j]; slices over the d rows, partial sums added.
  const enc: Record<'ssBase' | 'ssChat' | 'dot', string[]> = { ssBase: [], ssChat: [], dot: [] };
  for (const [i0, i1] of chunks(d, 2 * D, chunkElements)) {
    const n = i1 - i0;
    const base = externalFloat(g, ckpt.encoderWeight, i0 * D, [n, D]);
    const chat = externalFloat(g, ckpt.encoderWeight, (d + i0) * D, [n, D]);
    enc.ssBase.push(sumSquares(base, 0));
    enc.ssChat.push(sumSquares(chat, 0));
    enc.dot.push(dot(base, chat, 0));
  }
  const sum = (parts: string[], name: string) => g.op(parts.length === 1 ? 'Identity' : 'Sum', parts, {}, name);
  sum(enc.ssBase, 'enc_ss_base');
  sum(enc.ssChat, 'enc_ss_chat');
  sum(enc.dot, 'enc_dot');

  for (const name of METRICS_OUTPUTS) g.output(name, DT.FLOAT, [D]);
  return { bytes: g.toBytes(), weightFiles: [ckpt.file] };
}
