import * as ort from 'onnxruntime-node';
import { LatentDiffError } from '../errors';
import type { CrosscoderCheckpoint, LatentMetrics } from '../types';
import { buildDecodeGraph, buildEncodeGraph, resolveEncodeOutputs, type EncodeOutputs } from '../graphs/crosscoder-graph';
import { openGraphSession, type SessionOptions } from './graph-session';

export interface CrosscoderRunnerOptions {
  /** Where graphs go when the checkpoint's folder is read-only (place-graph.ts). */
  cacheDir: string;
  /** Passed to ORT (execution providers, threads, ...); disable_prepacking defaults to "1" (graph-session.ts). */
  sessionOptions?: SessionOptions;
  /** Per-token top-k. */
  topK: number;
  /** Tokens per graph run (default 256): bounds the graph's memory to about chunkTokens * D floats per temporary. */
  chunkTokens?: number;
  /** Encode outputs (crosscoder-graph.ts); defaults: top, summary, selected. */
  outputs?: EncodeOutputs;
}

/** Everything is row-major over the T tokens of the call; arrays for outputs that are switched off are empty. */
export interface EncodeResult {
  /** [T*K] scaled activations, descending per token (zeros included when fewer than K latents fire). */
  topValues: Float32Array;
  /** [T*K] latent ids matching topValues. */
  topIndices: Int32Array;
  /** [D] max scaled activation over the tokens. */
  latentMax: Float32Array;
  /** [D] number of tokens with a scaled activation > 0. */
  latentCount: Int32Array;
  /** [D] first token holding latentMax (0 for a latent that never fires). */
  latentArgmax: Int32Array;
  /** One [T] array of scaled activations per requested latent, in request order. */
  selected: Float32Array[];
  /** [T*D] raw activations f, when outputs.raw. */
  raw?: Float32Array;
  /** [T*d] reconstructions, when outputs.recon. */
  reconBase?: Float32Array;
  reconChat?: Float32Array;
}

/** Owns the ORT sessions of one crosscoder checkpoint; feed it residual activations of both models. */
export class CrosscoderRunner {
  private decodeSession: Promise<ort.InferenceSession> | undefined;

  private constructor(
    readonly ckpt: CrosscoderCheckpoint,
    private readonly encodeSession: ort.InferenceSession,
    private readonly opts: CrosscoderRunnerOptions,
    private readonly outputs: Required<EncodeOutputs>,
    readonly chunkTokens: number,
  ) {}

  /** Width of the per-token top-k outputs. */
  get topK(): number {
    return this.opts.topK;
  }

  static async create(ckpt: CrosscoderCheckpoint, metrics: LatentMetrics, opts: CrosscoderRunnerOptions): Promise<CrosscoderRunner> {
    const chunkTokens = opts.chunkTokens ?? 256;
    if (!(Number.isInteger(chunkTokens) && chunkTokens >= 1)) throw new LatentDiffError(undefined, `chunkTokens must be a positive integer, got ${chunkTokens}`, 'invalid-setting');
    const outputs = resolveEncodeOutputs(opts.outputs);
    const graph = buildEncodeGraph(ckpt, metrics, { topK: opts.topK, outputs });
    const session = await openGraphSession(graph, 'crosscoder-encode', opts.cacheDir, opts.sessionOptions);
    return new CrosscoderRunner(ckpt, session, opts, outputs, chunkTokens);
  }

  private checkTokens(what: string, x: Float32Array, T: number, width: number): void {
    if (!(Number.isInteger(T) && T >= 0) || x.length !== T * width) {
      throw new LatentDiffError(undefined, `${what} has ${x.length} values, expected T=${T} x ${width}`, 'invalid-input');
    }
  }

  /**
   * Encodes T tokens in chunks of chunkTokens. onChunk, when given, sees the result after each chunk: the
   * per-latent summary then covers the tokens done so far (incremental analysis keeps such prefixes).
   */
  async encode(xBase: Float32Array, xChat: Float32Array, T: number, select: number[] = [], onChunk?: (done: number, partial: EncodeResult) => void): Promise<EncodeResult> {
    const { dModel: d, dictSize: D } = this.ckpt;
    this.checkTokens('x_base', xBase, T, d);
    this.checkTokens('x_chat', xChat, T, d);
    for (const j of select) if (!(Number.isInteger(j) && j >= 0 && j < D)) throw new LatentDiffError(undefined, `latent id ${j} is out of range 0..${D - 1}`, 'invalid-input');
    const o = this.outputs;
    const K = o.top ? this.opts.topK : 0;
    const S = o.selected ? select.length : 0;
    const res: EncodeResult = {
      topValues: new Float32Array(T * K),
      topIndices: new Int32Array(T * K),
      latentMax: new Float32Array(o.summary ? D : 0),
      latentCount: new Int32Array(o.summary ? D : 0),
      latentArgmax: new Int32Array(o.summary ? D : 0),
      selected: Array.from({ length: S }, () => new Float32Array(T)),
      raw: o.raw ? new Float32Array(T * D) : undefined,
      reconBase: o.recon ? new Float32Array(T * d) : undefined,
      reconChat: o.recon ? new Float32Array(T * d) : undefined,
    };
    const selectTensor = new ort.Tensor('int64', BigInt64Array.from(select, (j) => BigInt(j)), [select.length]);
    for (let t0 = 0; t0 < T; t0 += this.chunkTokens) {
      const t1 = Math.min(T, t0 + this.chunkTokens);
      const n = t1 - t0;
      const feeds: Record<string, ort.Tensor> = {
        x_base: new ort.Tensor('float32', xBase.subarray(t0 * d, t1 * d), [n, d]),
        x_chat: new ort.Tensor('float32', xChat.subarray(t0 * d, t1 * d), [n, d]),
      };
      if (o.selected) feeds.select = selectTensor;
      const r = await this.encodeSession.run(feeds);
      if (o.top) {
        res.topValues.set(r.top_values.data as Float32Array, t0 * K);
        const idx = r.top_indices.data as BigInt64Array;
        for (let i = 0; i < idx.length; i++) res.topIndices[t0 * K + i] = Number(idx[i]);
      }
      if (o.summary) mergeSummary(res, t0, r.latent_max.data as Float32Array, r.latent_count.data as Int32Array, r.latent_argmax.data as BigInt64Array);
      if (S > 0) {
        const sel = r.selected.data as Float32Array;
        for (let t = 0; t < n; t++) for (let k = 0; k < S; k++) res.selected[k][t0 + t] = sel[t * S + k];
      }
      if (res.raw) res.raw.set(r.raw.data as Float32Array, t0 * D);
      if (res.reconBase && res.reconChat) {
        res.reconBase.set(r.recon_base.data as Float32Array, t0 * d);
        res.reconChat.set(r.recon_chat.data as Float32Array, t0 * d);
      }
      onChunk?.(t1, res);
    }
    return res;
  }

  /** Per-model reconstructions x̂^m = f @ W_dec[m] + b_dec[m] from raw activations f [T*D]. */
  async decode(f: Float32Array, T: number): Promise<{ reconBase: Float32Array; reconChat: Float32Array }> {
    const { dModel: d, dictSize: D } = this.ckpt;
    this.checkTokens('f', f, T, D);
    this.decodeSession ??= openGraphSession(buildDecodeGraph(this.ckpt), 'crosscoder-decode', this.opts.cacheDir, this.opts.sessionOptions);
    const session = await this.decodeSession;
    const reconBase = new Float32Array(T * d);
    const reconChat = new Float32Array(T * d);
    for (let t0 = 0; t0 < T; t0 += this.chunkTokens) {
      const t1 = Math.min(T, t0 + this.chunkTokens);
      const r = await session.run({ f: new ort.Tensor('float32', f.subarray(t0 * D, t1 * D), [t1 - t0, D]) });
      reconBase.set(r.recon_base.data as Float32Array, t0 * d);
      reconChat.set(r.recon_chat.data as Float32Array, t0 * d);
    }
    return { reconBase, reconChat };
  }

  async dispose(): Promise<void> {
    await this.encodeSession.release();
    if (this.decodeSession) await (await this.decodeSession).release();
  }
}

/** Folds one chunk's per-latent summary (argmax relative to the chunk starting at token t0) into the running one. */
function mergeSummary(res: EncodeResult, t0: number, max: Float32Array, count: Int32Array, argmax: BigInt64Array): void {
  for (let j = 0; j < max.length; j++) {
    res.latentCount[j] += count[j];
    // Strictly greater keeps the earliest token on ties, as a single ArgMax over all tokens would.
    if (t0 === 0 || max[j] > res.latentMax[j]) {
      res.latentMax[j] = max[j];
      res.latentArgmax[j] = t0 + Number(argmax[j]);
    }
  }
}
