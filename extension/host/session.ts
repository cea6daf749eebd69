/**
 * The extension's state and its one way to the engine: the open bundle (the InferenceClient is created on
 * first use, so activation loads nothing), the latest analysis, what is highlighted, the latent metrics and
 * statistics. Views and decorations listen to its events; none of them talk to the worker.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, InferenceClient } from '../engine/worker/client';
import type { AnalysisResult, BundleInfo, LatentMetrics, ProviderInUse } from '../engine/types';
import {
  MAX_EXACT_LATENTS, NO_HIGHLIGHT, chatSpecificLatents, chatSpecificitySeries, klSeries, latentSeries,
  type HighlightData, type HighlightRequest, type LatentStats,
} from '../presentation/highlight-series';
import { reportProvider, useCudaSetupBeforeWorker } from './gpu-setup';
import { log } from './log';
import { readSettings, type Settings } from './settings';
import { bundleStatsFile } from '../engine/analysis/latent-stats';
import type { ExamplesReply } from '../engine/analysis/analyzer';
import type { GenerateRequest, GenerationEvent, GenerationResult } from '../engine/analysis/generate/generate-request';
import type { DivergenceRequest, DocumentDivergence } from '../engine/analysis/patching/document-divergence';
import type { KlReport, KlRequest } from '../engine/analysis/patching/kl-job';
import type { LogitEffectsView } from '../protocol/messages';

/** Tokens listed per model and direction on the latent page. */
const LOGIT_EFFECTS_K = 10;

export interface OpenBundle {
  dir: string;
  info: BundleInfo;
  provider: ProviderInUse;
  providerNote?: string;
  adapter?: string;
  isDemo: boolean;
  statsFile?: string;
  examplesFile?: string;
}

export interface CurrentAnalysis {
  uri: vscode.Uri;
  /** Document version the result belongs to. */
  version: number;
  /** Document offset the analysed text starts at (0, or the start of the analysed selection). */
  base: number;
  /** Length of the analysed text. */
  length: number;
  title: string;
  result: AnalysisResult;
}

export interface NextTokenPredictions {
  uri: string;
  version: number;
  /** Per token: KL(P_chat || P_base) of the prediction made after it, and each model's top next tokens. */
  kl: Float32Array;
  chat: { text: string; prob: number }[][];
  base: { text: string; prob: number }[][];
}

export interface AnalyzeOptions {
  /** No progress notification (live mode). */
  silent?: boolean;
  signal?: AbortSignal;
}

export class Session implements vscode.Disposable {
  private client: InferenceClient | undefined;
  private clientKey = '';
  private opening: Promise<OpenBundle> | undefined;
  private metricsPromise: Promise<LatentMetrics> | undefined;
  private statsPromise: Promise<LatentStats | undefined> | undefined;
  private refining: AbortController | undefined;

  bundle: OpenBundle | undefined;
  metrics: LatentMetrics | undefined;
  stats: LatentStats | undefined;
  statsProblem = '';
  analysis: CurrentAnalysis | undefined;
  /** Both models' top next tokens per token of one analysed version (the divergence hover). */
  predictions: NextTokenPredictions | undefined;
  request: HighlightRequest = { mode: 'none' };
  highlight: HighlightData = NO_HIGHLIGHT;
  settings: Settings = readSettings();
  /** What the worker is doing right now (for the status bar); '' when idle. */
  busy = '';
  private inFlight = 0;

  private readonly bundleEmitter = new vscode.EventEmitter<OpenBundle | undefined>();
  private readonly analysisEmitter = new vscode.EventEmitter<CurrentAnalysis | undefined>();
  private readonly highlightEmitter = new vscode.EventEmitter<HighlightData>();
  private readonly statsEmitter = new vscode.EventEmitter<void>();
  private readonly busyEmitter = new vscode.EventEmitter<string>();
  readonly onDidChangeBundle = this.bundleEmitter.event;
  readonly onDidChangeAnalysis = this.analysisEmitter.event;
  readonly onDidChangeHighlight = this.highlightEmitter.event;
  readonly onDidChangeStats = this.statsEmitter.event;
  readonly onDidChangeBusy = this.busyEmitter.event;

  constructor(private readonly context: vscode.ExtensionContext) {}

  /** The bundle folder the settings name, or the embedded demo bundle. */
  bundleDir(): { dir: string; isDemo: boolean } {
    const configured = this.settings.bundlePath;
    if (!configured) return { dir: this.context.asAbsolutePath(join('models', 'demo')), isDemo: true };
    const expanded = configured.startsWith('~') ? join(homedir(), configured.slice(1)) : configured;
    if (isAbsolute(expanded)) return { dir: expanded, isDemo: false };
    // An untrusted repository must not supply the model, not even through a relative user setting.
    const workspaceRoot = vscode.workspace.isTrusted ? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath : undefined;
    const root = workspaceRoot ?? homedir();
    return { dir: resolve(root, expanded), isDemo: false };
  }

  reloadSettings(): void {
    const before = this.settings;
    this.settings = readSettings();
    const bundleChanged = before.bundlePath !== this.settings.bundlePath;
    const engineChanged = this.engineKey(before) !== this.engineKey(this.settings);
    if (bundleChanged || engineChanged) this.closeBundle();
    else this.recomputeHighlight();
  }

  private engineKey(s: Settings): string {
    return JSON.stringify([s.provider, s.disablePrepacking, s.cpuThreads, s.contextWindow]);
  }

  /** Forgets the open bundle; the next use opens the one the settings name. */
  closeBundle(): void {
    this.refining?.abort();
    this.client?.dispose();
    this.client = undefined;
    this.opening = undefined;
    this.bundle = undefined;
    this.metrics = undefined;
    this.metricsPromise = undefined;
    this.stats = undefined;
    this.statsPromise = undefined;
    this.statsProblem = '';
    this.analysis = undefined;
    this.predictions = undefined;
    this.highlight = NO_HIGHLIGHT;
    this.bundleEmitter.fire(undefined);
    this.analysisEmitter.fire(undefined);
    this.highlightEmitter.fire(this.highlight);
  }

  private getClient(): InferenceClient {
    const key = this.engineKey(this.settings);
    if (!this.client || this.clientKey !== key) {
      this.client?.dispose();
      useCudaSetupBeforeWorker(this.context);
      this.client = new InferenceClient({
        workerScript: this.context.asAbsolutePath(join('dist', 'worker.js')),
        provider: this.settings.provider,
        disablePrepacking: this.settings.disablePrepacking,
        ...(this.settings.cpuThreads > 0 ? { cpuThreads: this.settings.cpuThreads } : {}),
        cacheDir: join(this.context.globalStorageUri.fsPath, 'cache'),
        ...(this.settings.contextWindow > 0 ? { contextWindow: this.settings.contextWindow } : {}),
      });
      this.clientKey = key;
      this.client.onProgress((p) => { if (this.inFlight > 0) this.setBusy(p.message); });
    }
    return this.client;
  }

  private setBusy(message: string): void {
    this.busy = message;
    this.busyEmitter.fire(message);
  }

  /** Marks the worker busy while `work` runs (status bar spinner), idle again when the last call ends. */
  private async track<T>(message: string, work: Promise<T>): Promise<T> {
    this.inFlight++;
    if (this.inFlight === 1) this.setBusy(message);
    try {
      return await work;
    } finally {
      if (--this.inFlight === 0) this.setBusy('');
    }
  }

  /** Opens (once) the bundle the settings name. Throws LatentDiffError naming the file when it is invalid. */
  ensureBundle(): Promise<OpenBundle> {
    if (this.bundle) return Promise.resolve(this.bundle);
    this.opening ??= (async () => {
      const { dir, isDemo } = this.bundleDir();
      const client = this.getClient();
      const reply = await this.track('Opening the bundle…', client.openBundle(dir));
      const files = await bundleFiles(dir);
      const open: OpenBundle = { dir, info: reply.info, provider: reply.provider, providerNote: reply.providerNote, adapter: reply.adapter, isDemo, ...files };
      if (this.client !== client) throw new CancelledError();
      log().info(`opened ${reply.info.name} (${dir})`);
      this.bundle = open;
      this.bundleEmitter.fire(open);
      return open;
    })();
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  ensureMetrics(): Promise<LatentMetrics> {
    this.metricsPromise ??= (async () => {
      await this.ensureBundle();
      const m = await this.track('Loading latent metrics…', this.getClient().latentMetrics());
      this.metrics = m;
      return m;
    })();
    this.metricsPromise.catch(() => (this.metricsPromise = undefined));
    return this.metricsPromise;
  }

  /** Loads the bundle's statistics table once (absent: undefined; unreadable: statsProblem says why). */
  ensureStats(): Promise<LatentStats | undefined> {
    this.statsPromise ??= (async () => {
      const b = await this.ensureBundle();
      const file = bundleStatsFile(b.dir, b.statsFile);
      if (file) {
        try {
          this.stats = await this.readStats(file);
        } catch (e) {
          this.statsProblem = (e as Error).message;
        }
      }
      return this.stats;
    })();
    return this.statsPromise;
  }

  /** A latent's max-activating examples, read from the database in the inference worker. */
  examples(file: string, latent: number, perQuantile: number): Promise<ExamplesReply> {
    return this.track('Loading examples…', this.getClient().examples(file, latent, perQuantile));
  }

  /** A model answers a chat (or continues a text) in the inference worker, token by token. */
  async generate(text: string, request: GenerateRequest, onToken: (e: GenerationEvent) => void, signal?: AbortSignal): Promise<GenerationResult> {
    await this.ensureBundle();
    const result = await this.track('Generating…', this.getClient().generate(text, request, onToken, signal));
    if (this.bundle) this.bundle.provider = result.provider;
    return result;
  }

  /** The patching experiment (method.md 9) on one document, in the inference worker. */
  async kl(text: string, name: string, request: KlRequest, signal?: AbortSignal): Promise<KlReport> {
    await this.ensureBundle();
    return this.track('Running the patching experiment…', this.getClient().kl(text, name, request, signal));
  }

  /** Per-token KL(P_chat || P_base) and both models' top next tokens, in the inference worker. */
  async divergence(text: string, request: DivergenceRequest, signal?: AbortSignal): Promise<DocumentDivergence> {
    await this.ensureBundle();
    return this.track('Measuring divergence…', this.getClient().divergence(text, request, signal));
  }

  /** Display strings of token ids, decoded in the inference worker. */
  async tokenTexts(ids: number[]): Promise<string[]> {
    await this.ensureBundle();
    return (await this.getClient().tokenTexts(ids)).texts;
  }

  /** A latent's logit effects (direct path) with the tokens' display strings, from the inference worker. */
  async logitEffects(latent: number): Promise<LogitEffectsView> {
    await this.ensureBundle();
    const client = this.getClient();
    const e = await this.track('Computing logit effects…', client.logitEffects(latent, LOGIT_EFFECTS_K));
    const lists = [e.base.promoted, e.base.suppressed, e.chat.promoted, e.chat.suppressed];
    const { texts } = await client.tokenTexts(lists.flatMap((l) => l.map((t) => t.id)));
    let k = 0;
    const named = (l: { id: number; logit: number }[]) => l.map((t) => ({ text: texts[k++], logit: t.logit }));
    const [bp, bs, cp, cs] = lists.map(named);
    return { latent, convention: e.convention, base: { promoted: bp, suppressed: bs }, chat: { promoted: cp, suppressed: cs } };
  }

  /** Parses a statistics table in the inference worker: a published feature_df.csv is tens of MB. */
  async readStats(file: string): Promise<LatentStats> {
    const b = await this.ensureBundle();
    return this.track('Loading statistics…', this.getClient().latentStats(file, b.info.dictSize));
  }

  /** Results of the statistics command: the table and its examples database replace the bundle's own. */
  useComputedStatistics(stats: LatentStats, examplesFile: string | undefined): void {
    if (this.bundle && examplesFile) this.bundle.examplesFile = examplesFile;
    this.setStats(stats);
  }

  /** Statistics computed or imported while running (the statistics command); views refresh. */
  setStats(stats: LatentStats | undefined): void {
    this.stats = stats;
    this.statsPromise = Promise.resolve(stats);
    this.statsProblem = '';
    this.statsEmitter.fire();
    this.recomputeHighlight();
  }

  /** Latents whose exact per-token vectors the current highlight needs from the engine. */
  exactLatentsWanted(): number[] {
    if (this.request.mode === 'latents') return this.request.latents;
    if (this.request.mode === 'chat-specificity' && this.metrics) {
      const set = chatSpecificLatents(this.metrics, this.stats, this.settings.thresholds);
      return set.latents.length <= MAX_EXACT_LATENTS ? set.latents : [];
    }
    return [];
  }

  /**
   * Analyses a document (or a range of it). Resolves to undefined when the document changed meanwhile
   * (the result would be stale) or when cancelled.
   */
  async analyze(document: vscode.TextDocument, range: vscode.Range | undefined, opts: AnalyzeOptions = {}): Promise<CurrentAnalysis | undefined> {
    const run = async (signal?: AbortSignal) => {
      await this.ensureBundle();
      if (this.request.mode === 'chat-specificity') await this.ensureMetrics();
      const version = document.version;
      const text = range ? document.getText(range) : document.getText();
      const base = range ? document.offsetAt(range.start) : 0;
      const started = Date.now();
      const result = await this.track('Analysing…', this.getClient().analyze(text, {
        topK: this.settings.topK, latents: this.exactLatentsWanted(), mode: 'auto', docName: document.uri.fsPath || document.uri.toString(),
      }, signal));
      if (document.version !== version || signal?.aborted) return undefined;
      const name = document.uri.path.split('/').pop() || document.uri.toString();
      const title = range ? `${name} (lines ${range.start.line + 1}–${range.end.line + 1})` : name;
      this.refining?.abort();
      log().info(`analysed ${title}: ${result.tokens.length} tokens in ${Date.now() - started} ms on ${result.provider}`);
      if (this.bundle) Object.assign(this.bundle, { provider: result.provider, providerNote: result.providerNote, adapter: result.adapter });
      reportProvider(this.settings.provider, result);
      this.analysis = { uri: document.uri, version, base, length: text.length, title, result };
      this.analysisEmitter.fire(this.analysis);
      this.recomputeHighlight();
      return this.analysis;
    };
    try {
      if (opts.silent) return await run(opts.signal);
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Latent Diff', cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort());
          opts.signal?.addEventListener('abort', () => controller.abort(), { once: true });
          const sub = this.getClient().onProgress((p) => progress.report({ message: p.message }));
          progress.report({ message: vscode.l10n.t('Analysing {0}…', document.uri.path.split('/').pop() ?? '') });
          try {
            return await run(controller.signal);
          } finally {
            sub.dispose();
          }
        });
    } catch (e) {
      if (e instanceof CancelledError) return undefined;
      log().error(`analysis of ${document.uri.toString()} failed: ${(e as Error).message}`);
      throw e;
    }
  }

  setHighlight(request: HighlightRequest): void {
    this.request = request;
    if (request.mode === 'chat-specificity' && !this.metrics) {
      this.ensureMetrics().then(() => this.recomputeHighlight(), () => undefined);
    }
    this.recomputeHighlight();
  }

  /** Sets one slot of the latents highlight (slot 1 = second colour, keeping the first). */
  highlightLatent(latent: number, slot: 0 | 1): void {
    const current = this.request.mode === 'latents' ? this.request.latents : [];
    const latents = slot === 0 ? [latent, ...current.slice(1).filter((j) => j !== latent)] : [current[0] ?? latent, latent];
    this.setHighlight({ mode: 'latents', latents: [...new Set(latents)].slice(0, 2) });
  }

  highlightedLatents(): number[] {
    return this.request.mode === 'latents' ? this.request.latents : [];
  }

  recomputeHighlight(): void {
    const a = this.analysis;
    const norm = { mode: this.settings.normalization, value: this.settings.normalizationValue };
    if (!a || this.request.mode === 'none') {
      this.highlight = this.request.mode === 'none' ? NO_HIGHLIGHT : { mode: this.request.mode, series: [], note: vscode.l10n.t('Run "Latent Diff: Analyze Document" to see this highlight.') };
    } else if (this.request.mode === 'latents') {
      const series = this.request.latents.map((j) => latentSeries(a.result, j, norm, this.stats));
      this.highlight = { mode: 'latents', series, note: '' };
    } else if (this.request.mode === 'kl') {
      const series = klSeries(a.result, this.request, a.uri.toString(), a.version);
      this.highlight = series
        ? { mode: 'kl', series: [series], note: this.request.note }
        : { mode: 'kl', series: [], note: vscode.l10n.t('{0} was measured on another text or version: run it again.', this.request.name) };
    } else if (!this.metrics) {
      this.highlight = { mode: 'chat-specificity', series: [], note: vscode.l10n.t('Loading latent metrics…') };
    } else {
      const set = chatSpecificLatents(this.metrics, this.stats, this.settings.thresholds);
      const s = chatSpecificitySeries(a.result, set, norm);
      const approx = !s.approximate ? ''
        : set.latents.length <= MAX_EXACT_LATENTS ? ' Exact values are on the way; until then each token\'s top-k latents only.'
          : ` Summed over each token's top-${this.settings.topK} latents only (${set.latents.length} latents are too many to compute exactly).`;
      this.highlight = { mode: 'chat-specificity', series: [s], note: set.note + approx };
    }
    this.highlightEmitter.fire(this.highlight);
    this.refineIfApproximate();
  }

  /** Re-runs the analysis for exact per-token vectors of the highlighted latents, if the text is unchanged. */
  private refineIfApproximate(): void {
    const a = this.analysis;
    const wanted = this.exactLatentsWanted();
    if (!a || wanted.length === 0 || wanted.every((j) => a.result.selected.some((s) => s.latent === j))) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === a.uri.toString());
    if (!doc || doc.version !== a.version) return;
    this.refining?.abort();
    const controller = new AbortController();
    this.refining = controller;
    const range = a.base === 0 && a.length === doc.getText().length ? undefined : new vscode.Range(doc.positionAt(a.base), doc.positionAt(a.base + a.length));
    this.analyze(doc, range, { silent: true, signal: controller.signal }).catch((e) => {
      if (!(e instanceof CancelledError)) void vscode.window.showErrorMessage(vscode.l10n.t('Latent Diff: {0}', (e as Error).message));
    });
  }

  dispose(): void {
    this.refining?.abort();
    this.client?.dispose();
    this.bundleEmitter.dispose();
    this.analysisEmitter.dispose();
    this.highlightEmitter.dispose();
    this.statsEmitter.dispose();
    this.busyEmitter.dispose();
  }
}

/**
 * The statistics and examples files bundle.json declares (reading it again is cheap: JSON and headers; the
 * loader is imported here, not at activation).
 */
async function bundleFiles(dir: string): Promise<{ statsFile?: string; examplesFile?: string }> {
  try {
    const { loadBundle } = await import('../engine/bundle/bundle');
    const b = loadBundle(dir, { contentIdentity: false });
    return { ...(b.stats ? { statsFile: b.stats } : {}), ...(b.examples ? { examplesFile: b.examples } : {}) };
  } catch {
    return {};
  }
}
