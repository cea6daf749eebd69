/**
 * analyze(text) -> AnalysisResult for one bundle: tokens with spans, both models' residual streams,
 * the crosscoder's per-token top-k and per-latent summary. Owns every ORT session of the bundle, so it
 * runs inside the inference worker (or directly in the CLI and tests).
 */
import * as ort from 'onnxruntime-node';
import { bundleInfo, loadBundle, type Bundle } from '../bundle/bundle';
import { LatentDiffError } from '../errors';
import { openExamplesDb, type Example, type ExamplesDb } from './examples-db';
import { checkFiniteActivations } from './finite-activations';
import { rankLatents } from './latent-ranking';
import { runGeneration, type GenerateRequest, type GenerationEvent, type GenerationResult } from './generate/generate-request';
import { bundleStatsFile, loadLatentStats, type LatentStats } from './latent-stats';
import { updateLiveDocument, type LiveDocument } from './live-document';
import type { CrosscoderRunner, EncodeResult } from '../runtime/crosscoder-runner';
import { loadOrComputeLatentMetrics } from '../latents/metrics-cache';
import { tokenizeDocument } from '../text/document';
import { bundleChatTemplate } from '../text/chat-template';
import { graphOptions, ModelPair } from '../runtime/model-pair';
import { windowedResidual } from '../runtime/model-runner';
import type { ProviderChoice } from '../runtime/providers';
import { GemmaTokenizer } from '../text/tokenizer';
import type { AnalysisResult, AnalyzeOptions, BundleInfo, LatentMetrics, ProviderInUse, ProviderSetting } from '../types';

export interface AnalyzerOptions {
  provider: ProviderSetting;
  /** Graphs and metrics go here when the bundle's folders are read-only. */
  cacheDir: string;
  /** ORT's disable_prepacking for graphs over external weights (default true: memory-mapped, fast to load). */
  disablePrepacking?: boolean;
  /** ORT intra-op threads of each CPU session (default: one per physical core). */
  cpuThreads?: number;
  /** Overrides bundle.json's contextWindow. */
  contextWindow?: number;
  /** Longest document one analysis accepts, in tokens (default: 131,072, fewer for wide models). */
  maxTokens?: number;
}

export interface AnalyzeRequest extends AnalyzeOptions {
  mode?: 'auto' | 'plain' | 'chat';
  /** Names the document in errors (its path). */
  docName?: string;
}

export interface ExamplesReply {
  examples: Example[];
  /** Display string of every token of every example, in order. */
  texts: string[][];
}

export type Progress = (stage: string, message: string, fraction?: number) => void;

/** Called between stages: throws to cancel (the worker's cancel flag) and lets queued messages in. */
export type Checkpoint = () => Promise<void>;

const DEFAULT_TOP_K = 10;
/** The graph's top-k is built once at this size (or larger when asked) and cut per request. */
const GRAPH_TOP_K = 32;
/** Limits of one analysis: residual floats per model (1 GiB), and tokens (per-token results go to the host). */
const MAX_RESIDUAL_FLOATS = 2 ** 28;
const DEFAULT_MAX_TOKENS = 131_072;
const MAX_CHARS_PER_TOKEN = 8;
/** Characters per sample of the token estimate, and how far over the limit an estimate must be to refuse. */
const ESTIMATE_SAMPLE_CHARS = 8192;
const ESTIMATE_MARGIN = 1.5;
/** Residual streams of the last document are kept up to this many floats per model (64 MB). */
const MAX_CACHED_RESIDUAL = 16 * 1024 * 1024;

export interface Loaded {
  tokenizer: GemmaTokenizer;
  pair: ModelPair;
  metrics: LatentMetrics;
}

export class Analyzer {
  private loaded: Promise<Loaded> | undefined;
  private metricsPromise: Promise<LatentMetrics> | undefined;
  private tokenizerInstance: GemmaTokenizer | undefined;
  private readonly examplesDbs = new Map<string, ExamplesDb>();
  private lastResiduals: { key: string; xBase: Float32Array; xChat: Float32Array } | undefined;
  private statsInstance: LatentStats | undefined;
  /** The last document's caches and results, for re-analysis from the first changed token. */
  private live: LiveDocument | undefined;
  private readonly choice: ProviderChoice = {};

  private constructor(
    readonly bundle: Bundle,
    private readonly opts: AnalyzerOptions,
  ) {}

  /** Validates the bundle (cheap: headers and JSON only); models load on first use. */
  static open(dir: string, opts: AnalyzerOptions): Analyzer {
    return new Analyzer(loadBundle(dir, { cacheDir: opts.cacheDir }), opts);
  }

  get info(): BundleInfo {
    return bundleInfo(this.bundle);
  }

  get provider(): ProviderInUse | undefined {
    return this.choice.current;
  }

  get providerNote(): string | undefined {
    return this.choice.fallbackReason;
  }

  get adapter(): string | undefined {
    return this.choice.adapter;
  }

  /** Loads the tokenizer, both models and the crosscoder once; concurrent callers share the work. */
  load(progress: Progress = () => {}): Promise<Loaded> {
    this.loaded ??= (async () => {
      progress('tokenizer', 'Loading tokenizer', 0.05);
      const tokenizer = this.tokenizer();
      const pair = await ModelPair.open(this.bundle, { ...this.opts, choice: this.choice, onProgress: progress });
      try {
        progress('metrics', 'Computing latent metrics', 0.7);
        const metrics = await this.metrics();
        progress('ready', 'Bundle ready', 1);
        return { tokenizer, pair, metrics };
      } catch (e) {
        // A half-loaded bundle must not keep its sessions: the next attempt loads them again.
        await pair.dispose().catch(() => undefined);
        throw e;
      }
    })();
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  private crosscoderSessionOptions(): ort.InferenceSession.SessionOptions {
    return { ...graphOptions(this.opts), executionProviders: [this.choice.current ?? 'cpu'] };
  }

  private runner(l: Loaded, topK: number): Promise<CrosscoderRunner> {
    return l.pair.crosscoder(l.metrics, { topK: Math.min(this.bundle.crosscoder.dictSize, Math.max(GRAPH_TOP_K, topK)) });
  }

  /** The bundle's tokenizer, loaded once (without the models). */
  tokenizer(): GemmaTokenizer {
    this.tokenizerInstance ??= GemmaTokenizer.fromFiles(this.bundle.tokenizer.json, this.bundle.tokenizer.config);
    return this.tokenizerInstance;
  }

  /** Max-activating examples of a latent from an examples.db, with display strings for every token. */
  examples(file: string, latent: number, perQuantile: number): ExamplesReply {
    let db = this.examplesDbs.get(file);
    if (!db) {
      db = openExamplesDb(file);
      this.examplesDbs.set(file, db);
    }
    const tok = this.tokenizer();
    const examples = db.examplesFor(latent, { perQuantile });
    return { examples, texts: examples.map((e) => Array.from(e.tokenIds, (id) => tok.displayToken(id))) };
  }

  /** Static per-latent metrics: needs only the crosscoder's weights, not the models or the tokenizer. */
  metrics(): Promise<LatentMetrics> {
    this.metricsPromise ??= loadOrComputeLatentMetrics(this.bundle.crosscoder, { cacheDir: this.opts.cacheDir, sessionOptions: this.crosscoderSessionOptions() });
    this.metricsPromise.catch(() => (this.metricsPromise = undefined));
    return this.metricsPromise;
  }

  /**
   * Both models' residual streams for a document. The last document's are kept, so asking for other
   * latents' vectors or another top-k on the same text runs only the crosscoder.
   */
  private async residuals(l: Loaded, key: string, ids: number[], window: number, checkpoint: Checkpoint, progress: Progress): Promise<{ xBase: Float32Array; xChat: Float32Array }> {
    if (this.lastResiduals?.key === key) return this.lastResiduals;
    const d = this.bundle.dModel;
    const T = ids.length;
    progress('base', `Running ${l.pair.base.name} on ${T} tokens`);
    const tokenLabel = (t: number) => `token ${t} (id ${ids[t]})`;
    const xBase = await windowedResidual(l.pair.base, ids, l.tokenizer.bosId, window, d, checkpoint);
    checkFiniteActivations(xBase, d, this.bundle.base, tokenLabel);
    await checkpoint();
    progress('chat', `Running ${l.pair.chat.name} on ${T} tokens`);
    const xChat = await windowedResidual(l.pair.chat, ids, l.tokenizer.bosId, window, d, checkpoint);
    checkFiniteActivations(xChat, d, this.bundle.chat, tokenLabel);
    this.lastResiduals = T * d <= MAX_CACHED_RESIDUAL ? { key, xBase, xChat } : undefined;
    return { xBase, xChat };
  }

  /**
   * Per-token top-k, per-latent summary and selected latents' activations for a document. A document whose
   * residuals fit the cache goes through the live document (models rerun from the first changed token, window
   * by window); longer ones run window by window from scratch.
   */
  private async encodeDocument(l: Loaded, mode: string, text: string, ids: number[], window: number, topK: number, select: number[], checkpoint: Checkpoint, progress: Progress): Promise<Pick<EncodeResult, 'topValues' | 'topIndices' | 'latentMax' | 'latentCount' | 'latentArgmax' | 'selected'>> {
    const T = ids.length;
    const d = this.bundle.dModel;
    const runner = await this.runner(l, topK);
    if (T * d <= MAX_CACHED_RESIDUAL) {
      progress('base', `Running ${l.pair.base.name} on ${T} tokens`);
      const stage = async (next: 'chat' | 'crosscoder') => {
        await checkpoint();
        progress(next, next === 'chat' ? `Running ${l.pair.chat.name} on ${T} tokens` : 'Running the crosscoder');
      };
      const live = await updateLiveDocument(this.live, `${mode}\u0000${window}`, ids, { contextWindow: window, bosId: l.tokenizer.bosId }, l.pair, runner, select, stage, checkpoint);
      const tokenLabel = (t: number) => `token ${t} (id ${ids[t]})`;
      // The rows before `computedFrom` come from a document that passed this check (or it would not be kept).
      checkFiniteActivations(live.xBase, this.bundle.dModel, this.bundle.base, tokenLabel, live.computedFrom);
      checkFiniteActivations(live.xChat, this.bundle.dModel, this.bundle.chat, tokenLabel, live.computedFrom);
      this.live = live;
      const all = live.prefixes[live.prefixes.length - 1].summary;
      return { topValues: live.topValues, topIndices: live.topIndices, latentMax: all.max, latentCount: all.count, latentArgmax: all.argmax, selected: live.selected };
    }
    this.live = undefined;
    const { xBase, xChat } = await this.residuals(l, `${mode}\u0000${window}\u0000${text}`, ids, window, checkpoint, progress);
    await checkpoint();
    progress('crosscoder', 'Running the crosscoder');
    return runner.encode(xBase, xChat, T, select);
  }

  async analyze(text: string, req: AnalyzeRequest = {}, checkpoint: Checkpoint = async () => {}, progress: Progress = () => {}): Promise<AnalysisResult> {
    if (text.trim() === '') throw new LatentDiffError(req.docName, 'the document is empty: there is nothing to analyse', 'empty-document');
    const maxTokens = this.opts.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, Math.floor(MAX_RESIDUAL_FLOATS / this.bundle.dModel));
    // Tokenising megabytes takes minutes; text this long is over the limit at any realistic characters per token.
    if (text.length > maxTokens * MAX_CHARS_PER_TOKEN) throw tooLarge(req.docName, `${text.length} characters`, maxTokens);
    const l = await this.load(progress);
    const estimate = estimatedTokens(l.tokenizer, text);
    if (estimate > maxTokens * ESTIMATE_MARGIN) throw tooLarge(req.docName, `about ${Math.round(estimate)} tokens`, maxTokens);
    await checkpoint();
    const topK = req.topK ?? DEFAULT_TOP_K;
    if (!(Number.isInteger(topK) && topK >= 1)) throw new LatentDiffError(undefined, `top-k must be a positive integer, got ${topK}`, 'invalid-setting');
    const D = this.bundle.crosscoder.dictSize;
    const select = req.latents ?? [];
    for (const j of select) if (!(Number.isInteger(j) && j >= 0 && j < D)) throw new LatentDiffError(undefined, `latent ${j} does not exist: this crosscoder has latents 0..${D - 1}`, 'invalid-input');

    const doc = tokenizeDocument(l.tokenizer, text, { mode: req.mode ?? 'auto', docName: req.docName, template: bundleChatTemplate(this.bundle.tokenizer.chatTemplate) });
    const ids = doc.tokens.map((t) => t.id);
    const T = ids.length;
    if (T > maxTokens) throw tooLarge(req.docName, `${T} tokens`, maxTokens);
    const window = this.opts.contextWindow ?? this.bundle.contextWindow;
    if (!(window >= 2)) throw new LatentDiffError(undefined, `context window must be at least 2 tokens, got ${window}`, 'invalid-setting');
    await checkpoint();
    const enc = await this.encodeDocument(l, req.mode ?? 'auto', text, ids, window, topK, select, checkpoint, progress);
    const K = enc.topValues.length / Math.max(T, 1);
    const top = Array.from({ length: T }, (_, t) => {
      const row: { latent: number; act: number }[] = [];
      for (let k = 0; k < K && row.length < topK; k++) {
        const act = enc.topValues[t * K + k];
        if (act > 0) row.push({ latent: enc.topIndices[t * K + k], act });
      }
      return row;
    });
    const latents = rankLatents(enc.latentMax, enc.latentCount, enc.latentArgmax);
    return {
      bundle: this.info,
      provider: this.choice.current ?? 'cpu',
      ...(this.choice.fallbackReason ? { providerNote: this.choice.fallbackReason } : {}),
      ...(this.choice.adapter ? { adapter: this.choice.adapter } : {}),
      kind: doc.kind,
      tokens: doc.tokens,
      top,
      latents,
      selected: select.map((latent, i) => {
        const acts = Array.from(enc.selected[i]);
        return req.contributions ? { latent, acts, contributions: contributionNorms(acts, latent, l.metrics) } : { latent, acts };
      }),
    };
  }

  /** The bundle's statistics (feature_df.csv), read once; undefined when the bundle has none. */
  private stats(): LatentStats | undefined {
    const file = bundleStatsFile(this.bundle.dir, this.bundle.stats);
    if (file && this.statsInstance?.source !== file) this.statsInstance = loadLatentStats(file, this.bundle.crosscoder.dictSize);
    return file ? this.statsInstance : undefined;
  }

  /** A model answers a chat (or continues a text), streamed token by token through onToken (issue 8). */
  async generate(text: string, req: GenerateRequest, onToken: (e: GenerationEvent) => void, checkpoint: Checkpoint = async () => {}, progress: Progress = () => {}): Promise<GenerationResult> {
    const l = await this.load(progress);
    await checkpoint();
    progress('generate', `Generating with ${req.model ?? 'chat'}`);
    const maxAct = () => {
      const s = this.stats();
      return { values: s?.maxAct, file: s?.source };
    };
    return runGeneration({ bundle: this.bundle, pair: l.pair, tokenizer: l.tokenizer, metrics: l.metrics, maxAct, checkpoint }, text, req, onToken);
  }

  async dispose(): Promise<void> {
    const l = await this.loaded?.catch(() => undefined);
    this.loaded = undefined;
    this.lastResiduals = undefined;
    this.live = undefined;
    for (const db of this.examplesDbs.values()) db.close();
    this.examplesDbs.clear();
    await l?.pair.dispose();
  }
}

/** Per-model contribution norms f_j * ||d_j^m|| from scaled activations a = f_j * s_j. */
function contributionNorms(acts: number[], j: number, m: LatentMetrics): { base: number[]; chat: number[] } {
  const f = (a: number) => (m.scale[j] > 0 ? a / m.scale[j] : 0);
  return { base: acts.map((a) => f(a) * m.decNormBase[j]), chat: acts.map((a) => f(a) * m.decNormChat[j]) };
}

/**
 * Tokens a long text will have, from three samples (start, middle, end): tokenising a megabyte takes seconds
 * and hundreds of MB, too much to spend on a document that is then refused as too long.
 */
function estimatedTokens(tok: GemmaTokenizer, text: string): number {
  if (text.length <= 3 * ESTIMATE_SAMPLE_CHARS) return 0;
  let chars = 0;
  let tokens = 0;
  for (const at of [0, (text.length - ESTIMATE_SAMPLE_CHARS) >> 1, text.length - ESTIMATE_SAMPLE_CHARS]) {
    const sample = text.slice(at, at + ESTIMATE_SAMPLE_CHARS);
    chars += sample.length;
    tokens += tok.encode(sample, { addBos: false }).length;
  }
  return (text.length * tokens) / chars;
}

function tooLarge(docName: string | undefined, size: string, maxTokens: number): LatentDiffError {
  return new LatentDiffError(docName, `the document has ${size}, more than one analysis holds in memory with this bundle (${maxTokens} tokens): analyse a selection or split the file`, 'too-large');
}
