import { LatentDiffError } from '../errors';
import type { LogitsHeadSession } from './logits-head-session';
import type { ResidualModel } from './model-runner';
import type { OnnxUnembedding } from './onnx-unembedding';
import { SequenceCache } from './sequence-cache';
import type { KvCache, NextTokenRequest, NextTokenResult, SplitModel, TokenEffects } from './split-model';

/**
 * A SplitModel over graphs without key/value inputs: the cache keeps the ids (first half) or the residual
 * rows (second half) fed so far, each call reruns the graph from position 0 and returns the new positions.
 * Used for ONNX-file bundle models (Hugging Face folders run Gemma2SplitModel, with real key/value caches).
 */
export class RecomputingSplitModel implements SplitModel {
  readonly recomputesPrefix = true;

  constructor(
    private readonly first: ResidualModel,
    readonly dModel: number,
    private readonly second: LogitsHeadSession | undefined,
    /** The model's file or folder, named in errors. */
    readonly location: string,
    /** The unembedding bundle.json names for logit effects, when it names one. */
    private readonly unembedding?: OnnxUnembedding,
  ) {}

  get name(): string {
    return this.first.name;
  }

  get hasSecondHalf(): boolean {
    return this.second !== undefined;
  }

  get vocabSize(): number {
    return this.second?.source.vocabSize ?? 0;
  }

  async firstHalf(ids: number[], cache?: KvCache): Promise<{ resid: Float32Array; cache: KvCache }> {
    const before: SequenceCache<Int32Array<ArrayBufferLike>> = cache ? this.own(cache, Int32Array) : SequenceCache.empty(Int32Array, 1);
    const after = before.extend(Int32Array.from(ids));
    const resid = await this.first.residual(Array.from(after.rows));
    return { resid: resid.slice(before.length * this.dModel), cache: after };
  }

  async secondHalf(resid: Float32Array, cache: KvCache | undefined, request: NextTokenRequest): Promise<{ next: NextTokenResult; cache: KvCache }> {
    if (!this.second) {
      throw new LatentDiffError(this.location, `model "${this.name}" has no second half (the layers after the residual the bundle reads): add "secondHalf" to its entry in bundle.json to generate, steer or patch with it`, 'no-second-half');
    }
    const n = resid.length / this.dModel;
    if (!Number.isInteger(n) || n < 1) throw new LatentDiffError(undefined, `the residual has ${resid.length} values, not a positive multiple of dModel ${this.dModel}`, 'invalid-input');
    const before: SequenceCache<Float32Array<ArrayBufferLike>> = cache ? this.own(cache, Float32Array) : SequenceCache.empty(Float32Array, this.dModel);
    const after = before.extend(resid);
    const next = await this.second.run(after.rows, after.length, request.lastOnly ? 1 : n, request);
    return { next, cache: after };
  }

  /** Direct-path logit effects through the unembedding that bundle.json names (SplitModel.unembedTopK). */
  unembedTopK(vectors: Float32Array, k: number): Promise<TokenEffects> {
    if (!this.unembedding) {
      throw new LatentDiffError(this.location, `model "${this.name}" names no unembedding: add "unembedding" to its entry in bundle.json (a [vocab, dModel] value of its second-half graph, or a safetensors tensor) to see logit effects`, 'no-unembedding');
    }
    return this.unembedding.topK(vectors, k);
  }

  private own<R extends Float32Array<ArrayBufferLike> | Int32Array<ArrayBufferLike>>(cache: KvCache, kind: new (n: number) => R): SequenceCache<R> {
    if (!(cache instanceof SequenceCache) || !(cache.rows instanceof kind)) throw new Error(`model "${this.name}" was given a cache that another model or half made`);
    return cache as SequenceCache<R>;
  }

  async dispose(): Promise<void> {
    await this.first.dispose();
    await this.second?.dispose();
    await this.unembedding?.dispose();
  }
}
