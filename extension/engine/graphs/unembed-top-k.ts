/**
 * The direct-path logit effect of residual-space vectors (issue 8, logit effects): logits = v @ W_U^T with
 * the unembedding W_U [vocab, dModel] (Gemma's tied embedding), no final norm and no soft-capping, and per
 * vector the k highest and k lowest tokens, so the vocabulary-sized row never leaves the graph. `k` is an
 * input, so one graph serves every k.
 */
import * as ort from 'onnxruntime-node';
import type { TensorRef } from '../bundle/safetensors';
import { externalFloat } from './external-weights';
import { graftHead } from './graft-graph';
import { A, DT, GraphBuilder } from './onnx-builder';
import { placeGraph, type PlacedGraph } from './place-graph';

/** Per vector, row-major [n * k]: the tokens a residual-space vector promotes most and least. */
export interface TokenEffects {
  /** Highest logit effects first. */
  topIds: Int32Array;
  topValues: Float32Array;
  /** Lowest (most negative) logit effects first. */
  bottomIds: Int32Array;
  bottomValues: Float32Array;
}

export const UNEMBED_TOP_K = {
  vectors: 'vectors',
  k: 'k',
  topIds: 'top_ids',
  topValues: 'top_values',
  bottomIds: 'bottom_ids',
  bottomValues: 'bottom_values',
} as const;

/** Appends the inputs and outputs of UNEMBED_TOP_K to `g`, over `unembedding` (a float [vocab, dModel] value). */
export function appendUnembedTopK(g: GraphBuilder, unembedding: string, dModel: number): void {
  const v = g.input(UNEMBED_TOP_K.vectors, DT.FLOAT, ['n', dModel]);
  const k = g.input(UNEMBED_TOP_K.k, DT.INT64, [1]);
  const logits = g.op('Gemm', [v, unembedding], { transB: A.i(1) });
  for (const [largest, ids, values] of [[1, UNEMBED_TOP_K.topIds, UNEMBED_TOP_K.topValues], [0, UNEMBED_TOP_K.bottomIds, UNEMBED_TOP_K.bottomValues]] as const) {
    const [vals, idx] = g.opN('TopK', [logits, k], 2, { axis: A.i(-1), largest: A.i(largest), sorted: A.i(1) });
    g.alias(vals, values);
    g.op('Cast', [idx], { to: A.i(DT.INT32) }, ids);
    g.output(values, DT.FLOAT, ['n', 'k']);
    g.output(ids, DT.INT32, ['n', 'k']);
  }
}

/** The graph over a [vocab, dModel] safetensors tensor, read in place as external data (cast to float32 in the graph when stored narrower). */
export function unembedTopKOverTensor(ref: TensorRef, name: string, cacheDir: string): PlacedGraph {
  const [vocab, dModel] = ref.shape;
  const g = new GraphBuilder(name);
  appendUnembedTopK(g, externalFloat(g, ref, 0, [vocab, dModel], 'unembed'), dModel);
  return placeGraph(g.toBytes(), [ref.file], name, cacheDir);
}

/**
 * The graph over a [vocab, dModel] value of another ONNX model (an initializer, or a node output computed
 * from its weights): grafted onto that model, which keeps only what the value needs.
 */
export function unembedTopKOverGraphValue(modelBytes: Uint8Array, value: string, dModel: number): Uint8Array {
  const g = new GraphBuilder('unembed-top-k');
  const wire = `${value}__unembed_in`;
  appendUnembedTopK(g, g.op('Cast', [g.input(wire, DT.FLOAT, ['vocab', dModel])], { to: A.i(DT.FLOAT) }), dModel);
  return graftHead(modelBytes, g.toBytes(), { wires: { [wire]: value }, prefix: 'latent_diff_unembed', readsModelInputs: false });
}

/** Runs a session built with appendUnembedTopK on vectors [n * dModel]. */
export async function runUnembedTopK(session: ort.InferenceSession, vectors: Float32Array, dModel: number, k: number): Promise<TokenEffects> {
  const n = vectors.length / dModel;
  const r = await session.run({
    [UNEMBED_TOP_K.vectors]: new ort.Tensor('float32', vectors, [n, dModel]),
    [UNEMBED_TOP_K.k]: new ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]),
  });
  return {
    topIds: r[UNEMBED_TOP_K.topIds].data as Int32Array,
    topValues: r[UNEMBED_TOP_K.topValues].data as Float32Array,
    bottomIds: r[UNEMBED_TOP_K.bottomIds].data as Int32Array,
    bottomValues: r[UNEMBED_TOP_K.bottomValues].data as Float32Array,
  };
}
