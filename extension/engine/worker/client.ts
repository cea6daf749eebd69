/**
 * The typed client of the inference worker, used by the extension host and the CLI. Creating it is free:
 * the worker thread starts on the first request, and restarts (re-opening the last bundle) if it dies.
 */
import { Worker } from 'node:worker_threads';
import type { AnalyzeRequest, ExamplesReply } from '../analysis/analyzer';
import type { GenerateRequest, GenerationEvent, GenerationResult } from '../analysis/generate/generate-request';
import type { DivergenceRequest, DocumentDivergence } from '../analysis/patching/document-divergence';
import type { KlReport, KlRequest } from '../analysis/patching/kl-job';
import type { LogitEffects } from '../analysis/patching/logit-effects';
import type { LatentStats } from '../analysis/latent-stats';
import { fromErrorInfo } from '../errors';
import type { AnalysisResult, LatentMetrics, ProviderSetting } from '../types';
import type { FromWorker, OpenReply, ToWorker, WorkerReply } from './protocol';

export interface InferenceClientOptions {
  /** Absolute path of the built worker (dist/worker.js). */
  workerScript: string;
  provider: ProviderSetting;
  disablePrepacking?: boolean;
  cacheDir: string;
  contextWindow?: number;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export interface ProgressEvent {
  stage: string;
  message: string;
  fraction?: number;
}

interface Pending {
  resolve(v: WorkerReply): void;
  reject(e: Error): void;
  /** Streamed tokens of a generate request. */
  onToken?: (e: GenerationEvent) => void;
}

type Request = ToWorker extends infer M ? (M extends { type: 'cancel' } ? never : Omit<M, 'id'>) : never;

export class InferenceClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(p: ProgressEvent) => void>();
  private lastOpen: Extract<Request, { type: 'open' }> | undefined;
  private disposed = false;

  constructor(private readonly opts: InferenceClientOptions) {}

  private ensureWorker(): Worker {
    if (this.disposed) throw new Error('the inference client is disposed');
    if (this.worker) return this.worker;
    const w = new Worker(this.opts.workerScript);
    w.on('message', (m: FromWorker) => this.onMessage(m));
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', (e) => fail(new Error(`the inference worker crashed: ${e.message}`)));
    w.on('exit', (code) => fail(new Error(`the inference worker exited (code ${code})`)));
    this.worker = w;
    if (this.lastOpen) this.post(this.lastOpen).catch(() => undefined);
    return w;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'progress') {
      for (const l of this.listeners) l({ stage: m.stage, message: m.message, fraction: m.fraction });
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'token') {
      p.onToken?.(m.event);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === 'done') p.resolve(m.value);
    else p.reject(m.cancelled ? new CancelledError() : fromErrorInfo(m.error));
  }

  private post(req: Request, signal?: AbortSignal, onToken?: (e: GenerationEvent) => void): Promise<WorkerReply> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onToken });
      worker.postMessage({ ...req, id } as ToWorker);
      signal?.addEventListener('abort', () => {
        if (!this.pending.delete(id)) return;
        worker.postMessage({ id: this.nextId++, type: 'cancel', target: id } satisfies ToWorker);
        reject(new CancelledError());
      }, { once: true });
    });
  }

  /** Validates and opens a bundle; models load on the first analysis. */
  async openBundle(dir: string): Promise<OpenReply> {
    const req: Extract<Request, { type: 'open' }> = {
      type: 'open',
      dir,
      options: { provider: this.opts.provider, cacheDir: this.opts.cacheDir, disablePrepacking: this.opts.disablePrepacking, contextWindow: this.opts.contextWindow },
    };
    const reply = (await this.post(req)) as OpenReply;
    this.lastOpen = req;
    return reply;
  }

  analyze(text: string, request: AnalyzeRequest = {}, signal?: AbortSignal): Promise<AnalysisResult> {
    return this.post({ type: 'analyze', text, request }, signal) as Promise<AnalysisResult>;
  }

  /**
   * A model answers a chat (or continues a text), optionally steered; tokens stream to onToken as they are
   * generated (no token arrives after the promise settles). Aborting cancels at the next decode step.
   */
  generate(text: string, request: GenerateRequest, onToken: (e: GenerationEvent) => void, signal?: AbortSignal): Promise<GenerationResult> {
    return this.post({ type: 'generate', text, request }, signal, onToken) as Promise<GenerationResult>;
  }

  latentMetrics(): Promise<LatentMetrics> {
    return this.post({ type: 'metrics' }) as Promise<LatentMetrics>;
  }

  /** Max-activating examples of a latent from an examples.db, read and decoded in the worker. */
  examples(file: string, latent: number, perQuantile: number): Promise<ExamplesReply> {
    return this.post({ type: 'examples', file, latent, perQuantile }) as Promise<ExamplesReply>;
  }

  /** A feature_df.csv (ours or published) as per-latent arrays; parsed in the worker, not on the caller's thread. */
  latentStats(file: string, dictSize: number): Promise<LatentStats> {
    return this.post({ type: 'latentStats', file, dictSize }) as Promise<LatentStats>;
  }

  /** The patching experiment on the chats of `text` (method.md 9). */
  kl(text: string, name: string, request: KlRequest, signal?: AbortSignal): Promise<KlReport> {
    return this.post({ type: 'kl', text, name, request }, signal) as Promise<KlReport>;
  }

  /** Per token of `text`, KL(P_chat || P_base) of the next-token prediction and both models' top next tokens. */
  divergence(text: string, request: DivergenceRequest = {}, signal?: AbortSignal): Promise<DocumentDivergence> {
    return this.post({ type: 'divergence', text, request }, signal) as Promise<DocumentDivergence>;
  }

  /** A latent's decoder vectors through each model's unembedding (direct path), top and bottom k tokens. */
  logitEffects(latent: number, k?: number): Promise<LogitEffects> {
    return this.post({ type: 'logitEffects', latent, k }) as Promise<LogitEffects>;
  }

  onProgress(listener: (p: ProgressEvent) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  dispose(): void {
    this.disposed = true;
    const w = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) p.reject(new CancelledError());
    this.pending.clear();
    void w?.terminate();
  }
}
