/**
 * Grafts a graph built here (a "head") onto a bundle's own ONNX model: the head reads values of the model
 * through Identity wires, its outputs replace the model's, and the model keeps only the nodes, weights and
 * inputs those outputs need (a graph computing something vocabulary-sized that the head does not read
 * costs nothing at load time).
 */
import { onnx } from 'onnx-proto';

export interface Graft {
  /** Head input name -> the model value it reads. */
  wires: Record<string, string>;
  /** Prefix of the head's internal names, so they cannot clash with the model's. */
  prefix: string;
  /** False when what the head reads must be computable from the model's weights alone (no model input). */
  readsModelInputs?: boolean;
}

export function graftHead(modelBytes: Uint8Array, headBytes: Uint8Array, graft: Graft): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const head = onnx.ModelProto.decode(headBytes).graph as onnx.GraphProto;
  const graph = model.graph as onnx.GraphProto;
  renameInternals(head, graft.prefix);
  graph.node.push(...Object.entries(graft.wires).map(([to, from]) => onnx.NodeProto.create({ opType: 'Identity', input: [from], output: [to], name: `${graft.prefix}/wire/${to}` })));
  graph.node.push(...head.node);
  graph.initializer.push(...head.initializer);
  graph.output = head.output;
  const headInputs = head.input.filter((i) => !(i.name! in graft.wires));
  pruneTo(graph);
  if (graft.readsModelInputs === false && graph.input.length) {
    throw new Error(`${Object.values(graft.wires).map((v) => `"${v}"`).join(', ')} depends on the graph's input ${graph.input.map((i) => `"${i.name}"`).join(', ')}, so it is not a weight`);
  }
  graph.input.push(...headInputs);
  return onnx.ModelProto.encode(model).finish();
}

/** Prefixes the head's node, initializer and intermediate value names (not its inputs and outputs). */
function renameInternals(head: onnx.IGraphProto, prefix: string): void {
  const io = new Set([...head.input!, ...head.output!].map((v) => v.name!));
  const rename = (n: string) => (io.has(n) || n === '' ? n : `${prefix}/${n}`);
  for (const t of head.initializer!) t.name = rename(t.name!);
  for (const n of head.node!) {
    n.name = `${prefix}/${n.name}`;
    n.input = n.input!.map(rename);
    n.output = n.output!.map(rename);
  }
}

/** Every value a node reads, including those its subgraphs (If, Loop, Scan bodies) read from outer scope. */
function nodeReads(node: onnx.INodeProto): string[] {
  const reads = [...(node.input ?? [])];
  for (const a of node.attribute ?? []) {
    for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) for (const n of sub.node ?? []) reads.push(...nodeReads(n));
  }
  return reads;
}

/** Keeps the nodes, initializers and inputs the graph's outputs need (nodes are in topological order). */
function pruneTo(graph: onnx.GraphProto): void {
  const needed = new Set(graph.output.map((o) => o.name));
  const kept: onnx.INodeProto[] = [];
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const node = graph.node[i];
    if (!(node.output ?? []).some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const r of nodeReads(node)) needed.add(r);
  }
  graph.node = kept.reverse() as onnx.NodeProto[];
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name));
  graph.input = graph.input.filter((v) => needed.has(v.name));
  graph.valueInfo = graph.valueInfo.filter((v) => needed.has(v.name));
}
