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
  /**
   * A cache holding only the first n positions (0 <= n <= length). With `reclaim`, the caller promises that
   * no cache will read the positions beyond n again (neither this one nor any it was cut from or extended
   * to), so extending the result may overwrite them in place instead of copying the first n.
   */
  truncate(n: number, opts?: { reclaim?: boolean }): KvCache;
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
  /**
   * True when every call reruns the model from position 0 (a graph without key/value inputs; the cache only
   * holds what was fed): a sequence cut into chunks then costs the square of its length, so callers pass it
   * in as few calls as memory allows (secondHalfChunk).
   */
  readonly recomputesPrefix?: boolean;
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

/** Positions per second-half call: 64 keep vocabulary-sized tensors at 64 x vocab floats over a key/value cache. */
const CACHED_CHUNK = 64;
/** Vocabulary-sized floats one call may return for a model that recomputes its prefix (64 Mi floats, 256 MiB). */
const RECOMPUTED_CHUNK_FLOATS = 64 * 2 ** 20;

/**
 * Positions per second-half call when a sequence of T positions runs in chunks (patching, divergence). A model
 * that recomputes its prefix computes logits for every position of the prefix on each call anyway, so its
 * chunks are as long as RECOMPUTED_CHUNK_FLOATS allows: a sequence that fits runs in one call, not T / 64.
 */
export function secondHalfChunk(model: SplitModel, T: number, requested?: number): number {
  if (requested !== undefined) return requested;
  if (!model.recomputesPrefix) return CACHED_CHUNK;
  return Math.max(CACHED_CHUNK, Math.min(T, Math.floor(RECOMPUTED_CHUNK_FLOATS / Math.max(1, model.vocabSize))));
}
