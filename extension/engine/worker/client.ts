/**
 * The typed client of the inference worker, used by the extension host and the CLI: a facade over the
 * channel to dist/worker.js. Creating it is free: the worker thread starts on the first request, and
 * restarts (re-opening the last bundle) if it dies.
 */
import type { Worker } from 'node:worker_threads';
import type { AnalyzeRequest, ExamplesReply } from '../analysis/analyzer';
import type { GenerateRequest, GenerationEvent, GenerationResult } from '../analysis/generate/generate-request';
import type { DivergenceRequest, DocumentDivergence } from '../analysis/patching/document-divergence';
import type { KlReport, KlRequest } from '../analysis/patching/kl-job';
import type { LogitEffects } from '../analysis/patching/logit-effects';
import type { LatentStats } from '../analysis/latent-stats';
import { CancelledError, type Channel, type ParamsOf, type RequestType } from '../channel/channel';
import { startWorkerChannel } from '../channel/thread-transport';
import type { AnalysisResult, LatentMetrics, ProviderSetting } from '../types';
import { HeldAnalyses } from './analysis-delta';
import { InferenceRequests as R, type InferenceEvent, type OpenReply, type ProgressEvent, type TokenTexts } from './protocol';

export { CancelledError };
export type { ProgressEvent };

export interface InferenceClientOptions {
  /** Absolute path of the built worker (dist/worker.js). */
  workerScript: string;
  provider: ProviderSetting;
  disablePrepacking?: boolean;
  cpuThreads?: number;
  cacheDir: string;
  contextWindow?: number;
}

type OpenParams = ParamsOf<typeof R.open>;

export class InferenceClient {
  private current: { worker: Worker; channel: Channel<never, InferenceEvent> } | undefined;
  private readonly listeners = new Set<(p: ProgressEvent) => void>();
  private lastOpen: OpenParams | undefined;
  private readonly held = new HeldAnalyses();
  private disposed = false;

  constructor(private readonly opts: InferenceClientOptions) {}

  private channel(): Channel<never, InferenceEvent> {
    if (this.disposed) throw new Error('the inference client is disposed');
    if (this.current) return this.current.channel;
    const started = startWorkerChannel<never, InferenceEvent>(this.opts.workerScript, 'inference worker', () => {
      if (this.current === started) this.current = undefined;
    });
    this.current = started;
    this.held.forget();
    if (this.lastOpen) started.channel.request(R.open, this.lastOpen).catch(() => undefined);
    return started.channel;
  }

  private send<P, T>(type: RequestType<P, T>, params: P, signal?: AbortSignal, onToken?: (e: GenerationEvent) => void): Promise<T> {
    return this.channel().request(type, params, {
      signal,
      onEvent: (e) => {
        if (e.type === 'token') onToken?.(e.event);
        else for (const l of this.listeners) l({ stage: e.stage, message: e.message, fraction: e.fraction });
      },
    });
  }

  /** Validates and opens a bundle; models load on the first analysis. */
  async openBundle(dir: string): Promise<OpenReply> {
    const params: OpenParams = {
      dir,
      options: { provider: this.opts.provider, cacheDir: this.opts.cacheDir, disablePrepacking: this.opts.disablePrepacking, cpuThreads: this.opts.cpuThreads, contextWindow: this.opts.contextWindow },
    };
    const reply = await this.send(R.open, params);
    this.lastOpen = params;
    return reply;
  }

  /** The whole result; only the tokens after those it shares with the last one cross from the worker. */
  async analyze(text: string, request: AnalyzeRequest = {}, signal?: AbortSignal): Promise<AnalysisResult> {
    const held = this.held.holding();
    const reply = await this.send(R.analyze, { text, request, holds: held?.id }, signal);
    return this.held.accept(reply, held);
  }

  /**
   * A model answers a chat (or continues a text), optionally steered; tokens stream to onToken as they are
   * generated (no token arrives after the promise settles). Aborting cancels at the next decode step.
   */
  generate(text: string, request: GenerateRequest, onToken: (e: GenerationEvent) => void, signal?: AbortSignal): Promise<GenerationResult> {
    return this.send(R.generate, { text, request }, signal, onToken);
  }

  latentMetrics(): Promise<LatentMetrics> {
    return this.send(R.metrics, {});
  }

  /** Max-activating examples of a latent from an examples.db, read and decoded in the worker. */
  examples(file: string, latent: number, perQuantile: number): Promise<ExamplesReply> {
    return this.send(R.examples, { file, latent, perQuantile });
  }

  /** A feature_df.csv (ours or published) as per-latent arrays; parsed in the worker, not on the caller's thread. */
  latentStats(file: string, dictSize: number): Promise<LatentStats> {
    return this.send(R.latentStats, { file, dictSize });
  }

  /** The patching experiment on the chats of `text` (method.md 9). */
  kl(text: string, name: string, request: KlRequest, signal?: AbortSignal): Promise<KlReport> {
    return this.send(R.kl, { text, name, request }, signal);
  }

  /** Per token of `text`, KL(P_chat || P_base) of the next-token prediction and both models' top next tokens. */
  divergence(text: string, request: DivergenceRequest = {}, signal?: AbortSignal): Promise<DocumentDivergence> {
    return this.send(R.divergence, { text, request }, signal);
  }

  /** A latent's decoder vectors through each model's unembedding (direct path), top and bottom k tokens. */
  logitEffects(latent: number, k?: number): Promise<LogitEffects> {
    return this.send(R.logitEffects, { latent, k });
  }

  /** Display strings of token ids, decoded by the bundle's tokenizer in the worker. */
  tokenTexts(ids: number[]): Promise<TokenTexts> {
    return this.send(R.tokenTexts, { ids });
  }

  onProgress(listener: (p: ProgressEvent) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  dispose(): void {
    this.disposed = true;
    const current = this.current;
    this.current = undefined;
    current?.channel.close(new CancelledError());
    void current?.worker.terminate();
  }
}
