import * as ort from 'onnxruntime-node';
import { LatentDiffError } from '../errors';
import { buildGemma2Graph, type Gemma2Graph, type Gemma2LoadStage } from '../graphs/gemma2/gemma2-build';
import { GEMMA2_OUTPUT, newKeyName, newValueName, pastKeyName, pastValueName } from '../graphs/gemma2/gemma2-graph';
import { buildGemma2UnembedGraph } from '../graphs/gemma2/gemma2-unembed';
import { NEXT_TOKEN } from '../graphs/next-token-head';
import { runUnembedTopK, type TokenEffects } from '../graphs/unembed-top-k';
import { Gemma2KvCache } from './gemma2-kv-cache';
import { checkTokenIds, openGemma2Session, type CreateSession, type Gemma2Session } from './gemma2-session';
import type { KvCache, NextTokenRequest, NextTokenResult, SplitModel } from './split-model';

export interface Gemma2SplitOptions {
  /** The model is split after this block (the bundle's `layer`). */
  layer: number;
  /** Where graph records go (and hard-linked graphs when the model folder is read-only). */
  cacheDir: string;
  onProgress?: (stage: Gemma2LoadStage, fraction: number) => void;
}

/**
 * A bundle's `{"hf": folder}` Gemma 2 model split after block `layer` (SplitModel, method.md section 9): both
 * halves run over real key/value caches, so a decode step computes one position. The caller creates the
 * sessions (provider choice, session options) from the placed graphs. A folder without the blocks after
 * `layer` (or the final norm) still opens: hasSecondHalf is false and secondHalf throws the folder's error.
 */
export class Gemma2SplitModel implements SplitModel {
  readonly dModel: number;
  readonly vocabSize: number;
  readonly hasSecondHalf: boolean;
  private readonly firstOwner = {};
  private readonly secondOwner = {};
  private readonly second = new Map<string, Promise<Gemma2Session>>();
  private unembed: Promise<ort.InferenceSession> | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    private readonly options: Gemma2SplitOptions,
    private readonly first: Gemma2Session,
    /** Why the second half cannot run (missing tensors), when it cannot. */
    readonly secondHalfError: LatentDiffError | undefined,
    private readonly createSession: CreateSession,
    /** Bytes of the weights each half's graph references, in their stored dtype (second: undefined without one). */
    readonly weightBytes: { first: number; second: number | undefined },
  ) {
    this.dModel = first.graph.config.hiddenSize;
    this.vocabSize = first.graph.config.vocabSize;
    this.hasSecondHalf = !secondHalfError;
  }

  static async open(name: string, dir: string, options: Gemma2SplitOptions, createSession: CreateSession): Promise<Gemma2SplitModel> {
    const first = await openGemma2Session(dir, { ...options, half: 'first', kv: true }, createSession);
    let missing: LatentDiffError | undefined;
    let secondBytes: number | undefined;
    try {
      secondBytes = buildGemma2Graph(dir, { layer: options.layer, cacheDir: options.cacheDir, half: 'second', kv: true }).weightBytes;
    } catch (e) {
      if (!(e instanceof LatentDiffError && (e.code === 'missing-tensor' || e.code === 'not-found'))) {
        await first.session.release();
        throw e;
      }
      missing = new LatentDiffError(dir, `cannot run the model after block ${options.layer} (generation, steering, patching need it): ${e.problem}`, 'missing-tensor');
    }
    return new Gemma2SplitModel(name, dir, options, first, missing, createSession, { first: first.graph.weightBytes, second: secondBytes });
  }

  /** The config the graphs were built from. */
  get config(): Gemma2Graph['config'] {
    return this.first.graph.config;
  }

  async firstHalf(ids: number[], cache?: KvCache): Promise<{ resid: Float32Array; cache: KvCache }> {
    checkTokenIds(ids, this.vocabSize, this.dir);
    const past = this.own(cache, this.firstOwner, this.first.graph);
    const T = ids.length;
    if (T === 0) return { resid: new Float32Array(0), cache: past };
    const feeds = this.pastFeeds(this.first.graph, past, T);
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, T]);
    const out = await this.first.session.run(feeds);
    return { resid: out[GEMMA2_OUTPUT].data as Float32Array, cache: this.extend(this.first.graph, past, T, out) };
  }

  async secondHalf(resid: Float32Array, cache: KvCache | undefined, request: NextTokenRequest): Promise<{ next: NextTokenResult; cache: KvCache }> {
    if (this.secondHalfError) throw this.secondHalfError;
    const T = resid.length / this.dModel;
    if (!Number.isInteger(T)) throw new RangeError(`secondHalf: residual length ${resid.length} is not a multiple of d_model ${this.dModel}`);
    const half = await this.secondVariant(!!request.logProbs, !!request.klReference);
    const past = this.own(cache, this.secondOwner, half.graph);
    const k = Math.min(request.topK ?? 0, this.vocabSize);
    if (T === 0) return { next: { argmax: new Int32Array(0), topIds: new Int32Array(0), topLogProbs: new Float32Array(0), ...(request.logProbs ? { logProbs: new Float32Array(0) } : {}), ...(request.klReference ? { kl: new Float32Array(0) } : {}) }, cache: past };
    const feeds = this.pastFeeds(half.graph, past, T);
    feeds.resid = new ort.Tensor('float32', resid, [1, T, this.dModel]);
    feeds[NEXT_TOKEN.topK] = new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.max(k, 1))), [1]);
    if (request.klReference) {
      if (request.klReference.length !== T * this.vocabSize) throw new RangeError(`secondHalf: klReference has ${request.klReference.length} values, expected ${T} x ${this.vocabSize}`);
      feeds[NEXT_TOKEN.klReference] = new ort.Tensor('float32', request.klReference, [1, T, this.vocabSize]);
    }
    const out = await half.session.run(feeds);
    const next: NextTokenResult = {
      argmax: out[NEXT_TOKEN.argmax].data as Int32Array,
      topIds: k ? (out[NEXT_TOKEN.topIds].data as Int32Array) : new Int32Array(0),
      topLogProbs: k ? (out[NEXT_TOKEN.topLogProbs].data as Float32Array) : new Float32Array(0),
    };
    if (request.logProbs) next.logProbs = out[NEXT_TOKEN.logProbs].data as Float32Array;
    if (request.klReference) next.kl = out[NEXT_TOKEN.kl].data as Float32Array;
    return { next, cache: this.extend(half.graph, past, T, out) };
  }

  /** Direct-path logit effects through the tied unembedding (graphs/gemma2/gemma2-unembed.ts). */
  async unembedTopK(vectors: Float32Array, k: number): Promise<TokenEffects> {
    if (this.secondHalfError) throw this.secondHalfError;
    if (!this.unembed) {
      const placed = buildGemma2UnembedGraph(this.dir, this.options.layer, this.options.cacheDir);
      this.unembed = this.createSession(placed.path ?? { bytes: placed.bytes, externalData: placed.externalData });
      this.unembed.catch(() => (this.unembed = undefined));
    }
    return runUnembedTopK(await this.unembed, vectors, this.dModel, Math.min(k, this.vocabSize));
  }

  async dispose(): Promise<void> {
    const unembed = await this.unembed?.catch(() => undefined);
    await unembed?.release();
    const halves = await Promise.allSettled(this.second.values());
    await Promise.all([this.first.session.release(), ...halves.flatMap((h) => (h.status === 'fulfilled' ? [h.value.session.release()] : []))]);
  }

  /** The second-half graph for this combination of outputs (built and opened on first use). */
  private secondVariant(logProbs: boolean, kl: boolean): Promise<Gemma2Session> {
    const key = `${logProbs}-${kl}`;
    let half = this.second.get(key);
    if (!half) {
      half = openGemma2Session(this.dir, { layer: this.options.layer, cacheDir: this.options.cacheDir, half: 'second', kv: true, head: { logProbs, kl } }, this.createSession);
      this.second.set(key, half);
      half.catch(() => this.second.delete(key));
    }
    return half;
  }

  private own(cache: KvCache | undefined, owner: object, graph: Gemma2Graph): Gemma2KvCache {
    if (cache === undefined) return Gemma2KvCache.empty(owner, graph.kvBlocks.length, graph.config.numKvHeads * graph.config.headDim);
    if (!(cache instanceof Gemma2KvCache) || cache.owner !== owner) throw new Error(`${this.name}: this KvCache belongs to another model or to the other half`);
    return cache;
  }

  /** The attention mask over past + new positions, and each block's past keys/values (sliding blocks: their window). */
  private pastFeeds(graph: Gemma2Graph, past: Gemma2KvCache, T: number): Record<string, ort.Tensor> {
    const c = graph.config;
    const feeds: Record<string, ort.Tensor> = { attention_mask: new ort.Tensor('int64', new BigInt64Array(past.length + T).fill(1n), [1, past.length + T]) };
    graph.kvBlocks.forEach((i, j) => {
      const p = past.past(j, c.slidingLayers[i] ? c.slidingWindow - 1 : past.length);
      const dims = [1, p.positions, c.numKvHeads, c.headDim];
      feeds[pastKeyName(i)] = new ort.Tensor('float32', p.key, dims);
      feeds[pastValueName(i)] = new ort.Tensor('float32', p.value, dims);
    });
    return feeds;
  }

  private extend(graph: Gemma2Graph, past: Gemma2KvCache, T: number, out: ort.InferenceSession.OnnxValueMapType): Gemma2KvCache {
    const rows = (name: string) => out[name].data as Float32Array;
    return past.extended(T, graph.kvBlocks.map((i) => rows(newKeyName(i))), graph.kvBlocks.map((i) => rows(newValueName(i))));
  }
}
