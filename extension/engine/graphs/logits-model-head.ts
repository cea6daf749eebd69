/**
 * A bundle's second-half ONNX graph (residual after block `layer` -> logits [1, seq, vocab]) with the
 * next-token head appended inside the same graph, so vocabulary-sized tensors never leave ONNX Runtime.
 * The head reads only the last `last_n` positions: the runtime feeds the whole sequence (the graph may
 * attend over it) and gets predictions for the new positions only.
 */
import { onnx } from 'onnx-proto';
import { DT, GraphBuilder } from './onnx-builder';
import { appendNextTokenHead, type NextTokenHeadSpec } from './next-token-head';

export const LAST_N = 'last_n';

export function logitsModelWithHead(modelBytes: Uint8Array, logitsOutput: string, spec: NextTokenHeadSpec): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const g = new GraphBuilder('next-token-head');
  const logits = g.input(`${logitsOutput}__head_in`, DT.FLOAT, [1, 'seq', 'vocab']);
  const lastN = g.input(LAST_N, DT.INT64, [1]);
  const int64Max = g.int64s([Number.MAX_SAFE_INTEGER]);
  const tail = g.op('Slice', [logits, g.op('Neg', [lastN]), int64Max, g.int64s([1])]);
  appendNextTokenHead(g, tail, spec);
  const head = onnx.ModelProto.decode(g.toBytes()).graph as onnx.GraphProto;
  const graph = model.graph as onnx.GraphProto;
  const opset = model.opsetImport.find((o) => !o.domain);
  if (!opset || Number(opset.version) < 13) throw new Error(`the graph uses ONNX opset ${opset ? Number(opset.version) : 'none'}; second-half graphs need opset 13 or later`);
  renameInternals(head);

  // The head's input is the model's logits output under another name: wire it with an Identity.
  graph.node.push(onnx.NodeProto.create({ opType: 'Identity', input: [logitsOutput], output: [`${logitsOutput}__head_in`], name: 'latent_diff_head_wire' }));
  graph.node.push(...head.node);
  graph.initializer.push(...head.initializer);
  graph.input.push(...head.input.filter((i) => i.name !== `${logitsOutput}__head_in`));
  graph.output = head.output;
  return onnx.ModelProto.encode(model).finish();
}

/** Prefixes the head's node, initializer and intermediate value names so they cannot clash with the model's. */
function renameInternals(head: onnx.IGraphProto): void {
  const io = new Set([...head.input!, ...head.output!].map((v) => v.name!));
  const rename = (n: string) => (io.has(n) || n === '' ? n : `latent_diff_head/${n}`);
  for (const t of head.initializer!) t.name = rename(t.name!);
  for (const n of head.node!) {
    n.name = `latent_diff_head/${n.name}`;
    n.input = n.input!.map(rename);
    n.output = n.output!.map(rename);
  }
}
