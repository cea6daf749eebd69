/**
 * The seam the causal half stands on (issue 8, method.md section 9): one model of the pair split after
 * block `layer`. The first half maps token ids to the residual stream after block `layer`; the second half
 * maps a (possibly edited) residual stream to next-token predictions: blocks layer+1..N-1, final norm, tied
 * unembedding, final logit soft-capping. Both halves run incrementally over a key/value cache, so a decode
 * step, or re-analysis after an edit at the end of a document, computes only the new positions.
 *
 * Implementations: Gemma 2 from a Hugging Face folder (real key/value caches in the graph) and ONNX-file
 * bundles such as the demo (the cache may hold the ids and residuals and recompute: the result is the same).
 */

import type { TokenEffects } from '../graphs/unembed-top-k';

export type { TokenEffects };

/** What a model has computed so far for one sequence. Immutable: extending returns a new cache. */
export interface KvCache {
  /** Positions held (tokens already run). */
  readonly length: number;
  /** A cache holding only the first n positions (0 <= n <= length). */
  truncate(n: number): KvCache;
}

export interface NextTokenRequest {
  /** Top next tokens per position with their log-probs (0 or absent: none). */
  topK?: number;
  /** Also return the full log-probs [n * vocab] (large: only when asked, e.g. for sampling). */
  logProbs?: boolean;
  /** Reference log-probs [n * vocab]: per-position KL(P_ref || P_this), computed inside the graph. */
  klReference?: Float32Array;
  /**
   * Predictions for the last new position only (n = 1 in the result), e.g. a prompt's forward pass before
   * decoding: the cache still takes every new position. Implementations may ignore it and return all rows.
   */
  lastOnly?: boolean;
}

/** Per new position, row-major over the n positions of the call. */
export interface NextTokenResult {
  /** [n] most likely next token. */
  argmax: Int32Array;
  /** [n * topK] ids, by descending probability. */
  topIds: Int32Array;
  /** [n * topK] natural-log probabilities matching topIds. */
  topLogProbs: Float32Array;
  /** [n * vocab] when request.logProbs. */
  logProbs?: Float32Array;
  /** [n] KL(P_ref || P_this) in nats when request.klReference. */
  kl?: Float32Array;
}

export interface SplitModel {
  readonly name: string;
  readonly dModel: number;
  readonly vocabSize: number;
  /** False when the model's files end at block `layer` (the observational half still works). */
  readonly hasSecondHalf: boolean;
  /** First half over `ids` placed after `cache` (absent: from position 0): the new positions' residual [n * dModel]. */
  firstHalf(ids: number[], cache?: KvCache): Promise<{ resid: Float32Array; cache: KvCache }>;
  /** Second half over the new positions' residual [n * dModel] placed after `cache` (absent: from position 0). */
  secondHalf(resid: Float32Array, cache: KvCache | undefined, request: NextTokenRequest): Promise<{ next: NextTokenResult; cache: KvCache }>;
  /**
   * Optional: the direct-path logit effects of vectors [n * dModel] in the residual stream: v @ W_U^T through
   * the unembedding alone (no final norm, neither its scale nor its gain, and no soft-capping), the k
   * highest and lowest tokens per vector (graphs/unembed-top-k.ts builds that graph over W_U). Absent when
   * the model cannot; logit effects are then unavailable.
   */
  unembedTopK?(vectors: Float32Array, k: number): Promise<TokenEffects>;
  dispose(): Promise<void>;
}
