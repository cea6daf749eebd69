/**
 * A bundle's second-half ONNX graph (residual after block `layer` -> logits [1, seq, vocab]) with the
 * next-token head appended inside the same graph, so vocabulary-sized tensors never leave ONNX Runtime.
 * The head reads only the last `last_n` positions: the runtime feeds the whole sequence (the graph may
 * attend over it) and gets predictions for the new positions only. Nodes the logits do not need are dropped.
 */
import { onnx } from 'onnx-proto';
import { graftHead } from './graft-graph';
import { DT, GraphBuilder } from './onnx-builder';
import { appendNextTokenHead, type NextTokenHeadSpec } from './next-token-head';

export const LAST_N = 'last_n';

export function logitsModelWithHead(modelBytes: Uint8Array, logitsOutput: string, spec: NextTokenHeadSpec): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const opset = model.opsetImport.find((o) => !o.domain);
  if (!opset || Number(opset.version) < 13) throw new Error(`the graph uses ONNX opset ${opset ? Number(opset.version) : 'none'}; second-half graphs need opset 13 or later`);
  const g = new GraphBuilder('next-token-head');
  const headIn = `${logitsOutput}__head_in`;
  const logits = g.input(headIn, DT.FLOAT, [1, 'seq', 'vocab']);
  const lastN = g.input(LAST_N, DT.INT64, [1]);
  const int64Max = g.int64s([Number.MAX_SAFE_INTEGER]);
  const tail = g.op('Slice', [logits, g.op('Neg', [lastN]), int64Max, g.int64s([1])]);
  appendNextTokenHead(g, tail, spec);
  return graftHead(modelBytes, g.toBytes(), { wires: { [headIn]: logitsOutput }, prefix: 'latent_diff_head' });
}
