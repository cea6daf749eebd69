/**
 * The demo bundle's tiny base and chat "transformers" as ONNX graphs: hashed token embeddings, one causal
 * self-attention block, and planted concept directions written into the residual stream.
 */
import { A, DT, GraphBuilder } from '../extension/engine/graphs/onnx-builder';
import { CONCEPTS, DESIGN, type Concept } from './demo-design';

export interface ModelWeights {
  /** [atoms, d]: background atom vectors as seen by this model (direction times this model's weight). */
  atomTable: Float32Array;
  /** [concepts, d]: row k = magnitude_k(model) * u_k. */
  conceptRows: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  /** [headDim, d], writing into the background subspace only. */
  wo: Float32Array;
}

export interface HashParams {
  atoms: number;
  mul: number[];
  add: number[];
}

const GEMMA = { startOfTurn: 106, endOfTurn: 107, model: 2516 };

function tokenIndicator(g: GraphBuilder, ids3: string, tokenIds: number[]): string {
  const eq = g.op('Equal', [ids3, g.int64s(tokenIds)]);
  return g.op('ReduceMax', [g.op('Cast', [eq], { to: A.i(DT.FLOAT) })], { axes: A.ints([2]), keepdims: A.i(0) });
}

/**
 * 1 on the tokens of a model turn, from the role name "model" to its <end_of_turn>, using only tokens at or
 * before each position: the turn index of each token (a running count of <start_of_turn>), whether that turn
 * is still open, and whether the turn's role token so far is "model".
 */
function modelTurnIndicator(g: GraphBuilder, ids: string, causal01: string): string {
  const f = (x: string) => g.op('Cast', [x], { to: A.i(DT.FLOAT) });
  const axis1 = g.scalarInt64(1);
  const sot = f(g.op('Equal', [ids, g.int64s([GEMMA.startOfTurn], [])]));
  const eot = f(g.op('Equal', [ids, g.int64s([GEMMA.endOfTurn], [])]));
  const prev = g.op('Concat', [g.int64s([-1], [1, 1]), g.op('Slice', [ids, g.int64s([0]), g.int64s([-1]), g.int64s([1])])], { axis: A.i(1) });
  const roleIsModel = g.op('Mul', [f(g.op('Equal', [prev, g.int64s([GEMMA.startOfTurn], [])])), f(g.op('Equal', [ids, g.int64s([GEMMA.model], [])]))]);
  const turn = g.op('CumSum', [sot, axis1]);
  const closed = g.op('CumSum', [eot, axis1], { exclusive: A.i(1) });
  const open = f(g.op('Greater', [turn, closed]));
  const sameTurn = f(g.op('Equal', [g.op('Unsqueeze', [turn, g.int64s([2])]), g.op('Unsqueeze', [turn, g.int64s([1])])]));
  const modelSoFar = g.op('Mul', [g.op('Mul', [sameTurn, causal01]), g.op('Unsqueeze', [roleIsModel, g.int64s([1])])]);
  const isModelTurn = g.op('ReduceMax', [modelSoFar], { axes: A.ints([2]), keepdims: A.i(0) });
  return g.op('Mul', [open, isModelTurn]);
}

/** Token-identity codes both models write for the answer tokens (demo-behaviour.ts): one [d] row per token. */
export interface TokenCodes {
  tokenIds: number[];
  rows: Float32Array;
}

export function buildDemoModel(name: string, w: ModelWeights, hash: HashParams, conceptTokenIds: Map<string, number[]>, codes: TokenCodes): Uint8Array {
  const d = DESIGN.dModel;
  const dh = DESIGN.attentionHeadDim;
  const g = new GraphBuilder(name);
  const ids = g.input('input_ids', DT.INT64, [1, 'seq']);
  g.output('resid', DT.FLOAT, [1, 'seq', d]);

  // Hashed token embedding: each id picks `atomsPerToken` background atoms.
  const table = g.floats(w.atomTable, [hash.atoms, d], 'atom_table');
  let embed = '';
  for (let i = 0; i < hash.mul.length; i++) {
    const atom = g.op('Mod', [g.op('Add', [g.op('Mul', [ids, g.int64s([hash.mul[i]], [])]), g.int64s([hash.add[i]], [])]), g.int64s([hash.atoms], [])]);
    const e = g.op('Gather', [table, atom]);
    embed = embed ? g.op('Add', [embed, e]) : e;
  }

  // Causal mask over positions: causal01[t, s] = 1 when s <= t.
  const seqLen = g.op('Gather', [g.op('Shape', [ids]), g.int64s([1], [])]);
  const pos = g.op('Range', [g.int64s([0], []), seqLen, g.int64s([1], [])]);
  const later = g.op('Greater', [g.op('Unsqueeze', [pos, g.int64s([0])]), g.op('Unsqueeze', [pos, g.int64s([1])])]);
  const causal01 = g.op('Cast', [g.op('Not', [later])], { to: A.i(DT.FLOAT) });

  // One causal self-attention block over the RMS-normalised embedding.
  const ms = g.op('ReduceMean', [g.op('Mul', [embed, embed])], { axes: A.ints([-1]), keepdims: A.i(1) });
  const normed = g.op('Div', [embed, g.op('Sqrt', [g.op('Add', [ms, g.scalarFloat(1e-6)])])]);
  const q = g.op('MatMul', [normed, g.floats(w.wq, [d, dh])]);
  const k = g.op('MatMul', [normed, g.floats(w.wk, [d, dh])]);
  const v = g.op('MatMul', [normed, g.floats(w.wv, [d, dh])]);
  const scores = g.op('Div', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: A.ints([0, 2, 1]) })]), g.scalarFloat(Math.sqrt(dh))]);
  const masked = g.op('Where', [later, g.scalarFloat(-1e9), scores]);
  const attn = g.op('MatMul', [g.op('Softmax', [masked], { axis: A.i(-1) }), v]);
  const hidden = g.op('Add', [embed, g.op('MatMul', [attn, g.floats(w.wo, [dh, d])])]);

  // Planted concepts: indicators [1, T, K] times rows [K, d].
  const ids3 = g.op('Unsqueeze', [ids, g.int64s([2])]);
  const indicators = CONCEPTS.map((c: Concept) =>
    g.op('Unsqueeze', [c.trigger.kind === 'model-turn' ? modelTurnIndicator(g, ids, causal01) : tokenIndicator(g, ids3, conceptTokenIds.get(c.name)!), g.int64s([2])]),
  );
  for (const id of codes.tokenIds) indicators.push(g.op('Unsqueeze', [tokenIndicator(g, ids3, [id]), g.int64s([2])]));
  const stacked = g.op('Concat', indicators, { axis: A.i(2) });
  const rows = new Float32Array(w.conceptRows.length + codes.rows.length);
  rows.set(w.conceptRows);
  rows.set(codes.rows, w.conceptRows.length);
  const concepts = g.op('MatMul', [stacked, g.floats(rows, [indicators.length, d])]);
  g.op('Add', [hidden, concepts], {}, 'resid');
  return g.toBytes();
}
