/** The requests the inference worker serves and the events it sends for them, over engine/channel. */
import type { AnalyzeRequest, AnalyzerOptions, ExamplesReply } from '../analysis/analyzer';
import type { GenerateRequest, GenerationEvent, GenerationResult } from '../analysis/generate/generate-request';
import type { LatentStats } from '../analysis/latent-stats';
import type { DivergenceRequest, DocumentDivergence } from '../analysis/patching/document-divergence';
import type { KlReport, KlRequest } from '../analysis/patching/kl-job';
import type { LogitEffects } from '../analysis/patching/logit-effects';
import { requestType } from '../channel/channel';
import type { AnalysisReply } from './analysis-delta';
import type { BundleInfo, LatentMetrics, ProviderInUse } from '../types';

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

export interface ProgressEvent {
  stage: string;
  message: string;
  fraction?: number;
}

export const InferenceRequests = {
  open: requestType<{ dir: string; options: AnalyzerOptions }, OpenReply>('open'),
  /** `holds`: the id of the last whole result the client holds, which the reply may build on (analysis-delta.ts). */
  analyze: requestType<{ text: string; request: AnalyzeRequest; holds?: string }, AnalysisReply>('analyze'),
  generate: requestType<{ text: string; request: GenerateRequest }, GenerationResult>('generate'),
  metrics: requestType<Record<string, never>, LatentMetrics>('metrics'),
  latentStats: requestType<{ file: string; dictSize: number }, LatentStats>('latentStats'),
  examples: requestType<{ file: string; latent: number; perQuantile: number }, ExamplesReply>('examples'),
  kl: requestType<{ text: string; name: string; request: KlRequest }, KlReport>('kl'),
  divergence: requestType<{ text: string; request: DivergenceRequest }, DocumentDivergence>('divergence'),
  logitEffects: requestType<{ latent: number; k?: number }, LogitEffects>('logitEffects'),
  /** Display strings of token ids (the host has no tokenizer). */
  tokenTexts: requestType<{ ids: number[] }, TokenTexts>('tokenTexts'),
};

/** Events of a request: its progress, and each token a generate request produces before its reply. */
export type InferenceEvent = ({ type: 'progress' } & ProgressEvent) | { type: 'token'; event: GenerationEvent };
