/**
 * Next-token outputs appended to a graph that ends in logits [batch, seq, vocab] (float32), so that
 * vocabulary-sized tensors stay inside the graph (issue 8 section 2): log-softmax, argmax, top-k ids with
 * their log-probs, and optionally the full log-probs and the per-position KL(P_ref || P) against reference
 * log-probs given as an input. `top_k` is an input, so one graph serves every k.
 */
import { A, DT, GraphBuilder } from './onnx-builder';

export const NEXT_TOKEN = {
  topK: 'top_k',
  klReference: 'kl_reference',
  argmax: 'next_argmax',
  topIds: 'next_top_ids',
  topLogProbs: 'next_top_logprobs',
  logProbs: 'next_logprobs',
  kl: 'next_kl',
} as const;

export interface NextTokenHeadSpec {
  /** Output the full log-probs as NEXT_TOKEN.logProbs. */
  logProbs?: boolean;
  /** Take NEXT_TOKEN.klReference [batch, seq, vocab] log-probs and output NEXT_TOKEN.kl [batch, seq]. */
  kl?: boolean;
}

export function appendNextTokenHead(g: GraphBuilder, logits: string, spec: NextTokenHeadSpec = {}): void {
  const logp = g.op('LogSoftmax', [logits], { axis: A.i(-1) });
  g.op('Cast', [g.op('ArgMax', [logits], { axis: A.i(-1), keepdims: A.i(0) })], { to: A.i(DT.INT32) }, NEXT_TOKEN.argmax);
  const k = g.input(NEXT_TOKEN.topK, DT.INT64, [1]);
  const [values, indices] = g.opN('TopK', [logp, k], 2, { axis: A.i(-1), largest: A.i(1), sorted: A.i(1) });
  g.alias(values, NEXT_TOKEN.topLogProbs);
  g.op('Cast', [indices], { to: A.i(DT.INT32) }, NEXT_TOKEN.topIds);
  g.output(NEXT_TOKEN.argmax, DT.INT32, ['batch', 'seq']);
  g.output(NEXT_TOKEN.topIds, DT.INT32, ['batch', 'seq', 'k']);
  g.output(NEXT_TOKEN.topLogProbs, DT.FLOAT, ['batch', 'seq', 'k']);
  if (spec.logProbs) {
    g.alias(logp, NEXT_TOKEN.logProbs);
    g.output(NEXT_TOKEN.logProbs, DT.FLOAT, ['batch', 'seq', 'vocab']);
  }
  if (spec.kl) {
    // sum_v p_ref (log p_ref - log p). Log-probs of soft-capped logits are finite, so no 0 * inf terms.
    const ref = g.input(NEXT_TOKEN.klReference, DT.FLOAT, ['batch', 'seq', 'vocab']);
    const terms = g.op('Mul', [g.op('Exp', [ref]), g.op('Sub', [ref, logp])]);
    g.op('ReduceSum', [terms, g.int64s([-1])], { keepdims: A.i(0) }, NEXT_TOKEN.kl);
    g.output(NEXT_TOKEN.kl, DT.FLOAT, ['batch', 'seq']);
  }
}
