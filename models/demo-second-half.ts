/**
 * The demo models' second halves as ONNX graphs: residual after block `layer` [1, seq, d] -> logits
 * [1, seq, 256000] over the real Gemma 2 vocabulary, with the planted behaviour of demo-behaviour.ts.
 * Nothing vocabulary-sized is stored: the hashed background and the successor tables are computed in the
 * graph from a few numbers (ONNX Runtime folds them into constants when the session loads).
 *
 * The logits are linear in the residual except for the gated successor terms, which are zero for a residual
 * without an answer-token code: logits = resid W_U^T + successors(resid). The graph also computes that linear
 * readout W_U [vocab, d] as the value UNEMBEDDING (the background's P E transposed, plus the <end_of_turn>
 * readout), which bundle.json names as the model's unembedding for direct-path logit effects. The logits
 * themselves use the factors, never the [vocab, d] matrix; sessions that only need logits drop it.
 */
import { A, DT, GraphBuilder } from '../extension/engine/graphs/onnx-builder';

export const UNEMBEDDING = 'unembedding';

export interface Successors {
  /** Per code token k: the id that follows it in the answer, or -1 when none. */
  next: number[];
  weight: number;
}

export interface SecondHalfSpec {
  name: string;
  dModel: number;
  vocabSize: number;
  /** [d, r] projection and per-rank frequency and phase of the hashed background logits. */
  background: { proj: Float32Array; freq: number[]; phase: number[] };
  /** [d, n] readout columns of the n token codes (1 on the token's own code). */
  codeReadout: Float32Array;
  /** Ungated successor table (the base answer). */
  base: Successors;
  /** The chat answer, gated by `gate` (a [d] readout vector); absent in the base model. */
  chat?: Successors & { gate: Float32Array };
  /** <end_of_turn> logit = weight * (readout . resid); absent in the base model. */
  end?: { tokenId: number; readout: Float32Array };
}

/** [n, V] table with `weight` at (k, next[k]) and zero rows where next[k] < 0. */
function successorTable(g: GraphBuilder, s: Successors, vocab: number): string {
  const depth = g.int64s([vocab], []);
  const oneHot = g.op('OneHot', [g.int64s(s.next.map((v) => Math.max(v, 0))), depth, g.floats([0, s.weight], [2])], { axis: A.i(-1) });
  return g.op('Mul', [oneHot, g.floats(s.next.map((v) => (v < 0 ? 0 : 1)), [s.next.length, 1])]);
}

export function buildSecondHalf(spec: SecondHalfSpec): Uint8Array {
  const { dModel: d, vocabSize: V } = spec;
  const r = spec.background.freq.length;
  const n = spec.codeReadout.length / d;
  const g = new GraphBuilder(spec.name);
  const resid = g.input('resid', DT.FLOAT, [1, 'seq', d]);
  g.output('logits', DT.FLOAT, [1, 'seq', V]);

  // Hashed background: (resid P) E with E[k, v] = sin(v * freq_k + phase_k).
  const ids = g.op('Cast', [g.op('Range', [g.scalarInt64(0), g.scalarInt64(V), g.scalarInt64(1)])], { to: A.i(DT.FLOAT) });
  const angles = g.op('Add', [g.op('Mul', [g.op('Unsqueeze', [ids, g.int64s([0])]), g.floats(spec.background.freq, [r, 1])]), g.floats(spec.background.phase, [r, 1])]);
  const table = g.op('Sin', [angles]);
  const proj = g.floats(spec.background.proj, [d, r]);
  let logits = g.op('MatMul', [g.op('MatMul', [resid, proj]), table]);
  let unembedding = g.op('MatMul', [g.op('Transpose', [table], { perm: A.ints([1, 0]) }), g.op('Transpose', [proj], { perm: A.ints([1, 0]) })]);

  // Which answer token each position holds, from its code.
  const score = g.op('MatMul', [resid, g.floats(spec.codeReadout, [d, n])]);
  const code = g.op('Relu', [g.op('Mul', [g.op('Sub', [score, g.scalarFloat(0.75)]), g.scalarFloat(4)])]);
  logits = g.op('Add', [logits, g.op('MatMul', [code, successorTable(g, spec.base, V)])]);
  if (spec.chat) {
    const gate = g.op('MatMul', [resid, g.floats(spec.chat.gate, [d, 1])]);
    logits = g.op('Add', [logits, g.op('MatMul', [g.op('Mul', [code, gate]), successorTable(g, spec.chat, V)])]);
  }
  if (spec.end) {
    const readout = g.floats(spec.end.readout, [d, 1]);
    const end = g.op('MatMul', [resid, readout]);
    const oneHot = g.op('OneHot', [g.int64s([spec.end.tokenId]), g.int64s([V], []), g.floats([0, 1], [2])], { axis: A.i(-1) });
    logits = g.op('Add', [logits, g.op('MatMul', [end, oneHot])]);
    const endColumn = g.op('OneHot', [g.int64s([spec.end.tokenId]), g.int64s([V], []), g.floats([0, 1], [2])], { axis: A.i(0) });
    unembedding = g.op('Add', [unembedding, g.op('MatMul', [endColumn, g.op('Transpose', [readout], { perm: A.ints([1, 0]) })])]);
  }
  g.alias(logits, 'logits');
  g.alias(unembedding, UNEMBEDDING);
  return g.toBytes();
}
