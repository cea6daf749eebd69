/**
 * analyze(text) -> AnalysisResult for one bundle: tokens with spans, both models' residual streams,
 * the crosscoder's per-token top-k and per-latent summary. Owns every ORT session of the bundle, so it
 * runs inside the inference worker (or directly in the CLI and tests).
 */
import * as ort from 'onnxruntime-node';
import { bundleInfo, loadBundle, type Bundle, type ModelSource } from '../bundle/bundle';
import { LatentDiffError } from '../errors';
import { openExamplesDb, type Example, type ExamplesDb } from './examples-db';
import { checkFiniteActivations } from './finite-activations';
import { CrosscoderRunner } from '../graphs/crosscoder-runner';
import { withGraphDefaults } from '../graphs/graph-session';
import { loadOrComputeLatentMetrics } from '../latents/metrics-cache';
import { tokenizeDocument } from '../text/document';
import { bundleChatTemplate } from '../text/chat-template';
import { Gemma2ResidualModel } from '../runtime/gemma2-residual-model';
import { GemmaTokenizer } from '../text/tokenizer';
import type { AnalysisResult, AnalyzeOptions, BundleInfo, LatentMetrics, LatentSummary, ProviderInUse, ProviderSetting } from '../types';
import { createSession, type ProviderChoice } from '../worker/providers';
import { OnnxResidualModel, windowedResidual, type ResidualModel } from './model-runner';

export interface AnalyzerOptions {
  provider: ProviderSetting;
  /** Graphs and metrics go here when the bundle's folders are read-only. */
  cacheDir: string;
  /** ORT's disable_prepacking for graphs over external weights (default true: memory-mapped, fast to load). */
  disablePrepacking?: boolean;
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

interface Loaded {
  tokenizer: GemmaTokenizer;
  base: ResidualModel;
  chat: ResidualModel;
  metrics: LatentMetrics;
  runners: Map<number, CrosscoderRunner>;
}

export class Analyzer {
  private loaded: Promise<Loaded> | undefined;
  private metricsPromise: Promise<LatentMetrics> | undefined;
  private tokenizerInstance: GemmaTokenizer | undefined;
  private readonly examplesDbs = new Map<string, ExamplesDb>();
  private lastResiduals: { key: string; xBase: Float32Array; xChat: Float32Array } | undefined;
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

  private sessionOptions(): ort.InferenceSession.SessionOptions {
    const prepack = this.opts.disablePrepacking === false ? '0' : '1';
    return withGraphDefaults({ extra: { session: { disable_prepacking: prepack } } });
  }

  private async openModel(source: ModelSource, progress: Progress): Promise<ResidualModel> {
    if (source.kind === 'hf') {
      const onProgress = (stage: string, fraction: number) => progress('model', `${source.name}: ${stage.replace('-', ' ')}`, fraction);
      return Gemma2ResidualModel.open(source.name, source.dir, { layer: this.bundle.layer, cacheDir: this.opts.cacheDir, onProgress }, (s) =>
        createSession(s, this.opts.provider, this.choice, this.sessionOptions()),
      );
    }
    try {
      const session = await createSession(source.path, this.opts.provider, this.choice, {});
      return new OnnxResidualModel(source, session, this.bundle.dModel);
    } catch (e) {
      throw new LatentDiffError(source.path, `ONNX Runtime cannot load this model: ${(e as Error).message.split('\n')[0]}`, 'model-load');
    }
  }

  /** Loads the tokenizer, both models and the crosscoder once; concurrent callers share the work. */
  load(progress: Progress = () => {}): Promise<Loaded> {
    this.loaded ??= (async () => {
      const b = this.bundle;
      progress('tokenizer', 'Loading tokenizer', 0.05);
      const tokenizer = this.tokenizer();
      const opened: ResidualModel[] = [];
      try {
        progress('base', `Loading ${b.base.name}`, 0.3);
        const base = await this.openModel(b.base, progress);
        opened.push(base);
        progress('chat', `Loading ${b.chat.name}`, 0.5);
        const chat = await this.openModel(b.chat, progress);
        opened.push(chat);
        progress('metrics', 'Computing latent metrics', 0.7);
        const metrics = await this.metrics();
        progress('ready', 'Bundle ready', 1);
        return { tokenizer, base, chat, metrics, runners: new Map() };
      } catch (e) {
        // A half-loaded bundle must not keep its sessions: the next attempt loads them again.
        await Promise.all(opened.map((m) => m.dispose().catch(() => undefined)));
        throw e;
      }
    })();
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  private crosscoderSessionOptions(): ort.InferenceSession.SessionOptions {
    return { ...this.sessionOptions(), executionProviders: [this.choice.current ?? 'cpu'] };
  }

  private async runner(l: Loaded, topK: number): Promise<CrosscoderRunner> {
    const k = Math.min(this.bundle.crosscoder.dictSize, Math.max(GRAPH_TOP_K, topK));
    let r = l.runners.get(k);
    if (!r) {
      r = await CrosscoderRunner.create(this.bundle.crosscoder, l.metrics, { cacheDir: this.opts.cacheDir, sessionOptions: this.crosscoderSessionOptions(), topK: k });
      l.runners.set(k, r);
    }
    return r;
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
    progress('base', `Running ${l.base.name} on ${T} tokens`);
    const tokenLabel = (t: number) => `token ${t} (id ${ids[t]})`;
    const xBase = await windowedResidual(l.base, ids, l.tokenizer.bosId, window, d, checkpoint);
    checkFiniteActivations(xBase, d, this.bundle.base, tokenLabel);
    await checkpoint();
    progress('chat', `Running ${l.chat.name} on ${T} tokens`);
    const xChat = await windowedResidual(l.chat, ids, l.tokenizer.bosId, window, d, checkpoint);
    checkFiniteActivations(xChat, d, this.bundle.chat, tokenLabel);
    this.lastResiduals = T * d <= MAX_CACHED_RESIDUAL ? { key, xBase, xChat } : undefined;
    return { xBase, xChat };
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
    const { xBase, xChat } = await this.residuals(l, `${req.mode ?? 'auto'}\u0000${window}\u0000${text}`, ids, window, checkpoint, progress);
    await checkpoint();
    progress('crosscoder', 'Running the crosscoder');
    const runner = await this.runner(l, topK);
    const enc = await runner.encode(xBase, xChat, T, select);

    const K = enc.topValues.length / Math.max(T, 1);
    const top = Array.from({ length: T }, (_, t) => {
      const row: { latent: number; act: number }[] = [];
      for (let k = 0; k < K && row.length < topK; k++) {
        const act = enc.topValues[t * K + k];
        if (act > 0) row.push({ latent: enc.topIndices[t * K + k], act });
      }
      return row;
    });
    const latents: LatentSummary[] = [];
    for (let j = 0; j < D; j++) {
      if (enc.latentCount[j] > 0) latents.push({ latent: j, max: enc.latentMax[j], count: enc.latentCount[j], argmaxToken: enc.latentArgmax[j] });
    }
    latents.sort((a, b) => b.max - a.max || a.latent - b.latent);
    return {
      bundle: this.info,
      provider: this.choice.current ?? 'cpu',
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

  async dispose(): Promise<void> {
    const l = await this.loaded?.catch(() => undefined);
    this.loaded = undefined;
    this.lastResiduals = undefined;
    for (const db of this.examplesDbs.values()) db.close();
    this.examplesDbs.clear();
    if (!l) return;
    await l.base.dispose();
    await l.chat.dispose();
    for (const r of l.runners.values()) await r.dispose();
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
