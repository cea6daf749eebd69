/** Messages between the InferenceClient (any thread) and the inference worker. One union per direction. */
import type { AnalyzeRequest, AnalyzerOptions, ExamplesReply } from '../analysis/analyzer';
import type { GenerateRequest, GenerationEvent, GenerationResult } from '../analysis/generate/generate-request';
import type { LatentStats } from '../analysis/latent-stats';
import type { DivergenceRequest, DocumentDivergence } from '../analysis/patching/document-divergence';
import type { KlReport, KlRequest } from '../analysis/patching/kl-job';
import type { LogitEffects } from '../analysis/patching/logit-effects';
import type { ErrorInfo } from '../errors';
import type { AnalysisResult, BundleInfo, LatentMetrics, ProviderInUse } from '../types';

export interface OpenReply {
  info: BundleInfo;
  /** Known once a model has loaded; until then the provider the setting will try first. */
  provider: ProviderInUse;
  providerNote?: string;
  adapter?: string;
}

export interface TokenTexts {
  texts: string[];
}

export type ToWorker =
  | { id: number; type: 'open'; dir: string; options: AnalyzerOptions }
  | { id: number; type: 'analyze'; text: string; request: AnalyzeRequest }
  | { id: number; type: 'generate'; text: string; request: GenerateRequest }
  | { id: number; type: 'metrics' }
  | { id: number; type: 'latentStats'; file: string; dictSize: number }
  | { id: number; type: 'examples'; file: string; latent: number; perQuantile: number }
  | { id: number; type: 'kl'; text: string; name: string; request: KlRequest }
  | { id: number; type: 'divergence'; text: string; request: DivergenceRequest }
  | { id: number; type: 'logitEffects'; latent: number; k?: number }
  /** Display strings of token ids (the host has no tokenizer). */
  | { id: number; type: 'tokenTexts'; ids: number[] }
  | { id: number; type: 'cancel'; target: number };

export type WorkerReply = OpenReply | AnalysisResult | LatentMetrics | LatentStats | ExamplesReply | GenerationResult | KlReport | DocumentDivergence | LogitEffects | TokenTexts;

export type FromWorker =
  | { id: number; type: 'done'; value: WorkerReply }
  | { id: number; type: 'failed'; error: ErrorInfo; cancelled: boolean }
  | { id: number; type: 'progress'; stage: string; message: string; fraction?: number }
  /** One generated token of request `id`, streamed before its 'done'. */
  | { id: number; type: 'token'; event: GenerationEvent };
