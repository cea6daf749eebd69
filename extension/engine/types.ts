/**
 * The engine's shared data types. Everything here is plain data (structured-clone safe), so it crosses
 * the worker boundary, the webview protocol and the CLI's JSON unchanged.
 */
import type { TensorRef } from './bundle/safetensors';

export type ProviderSetting = 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml';
export type ProviderInUse = 'cpu' | 'cuda' | 'webgpu' | 'dml';

/** Code normalisation of a dictionary_learning crosscoder (method.md 2.2): how s_j is computed. */
export type CodeNormalization = 'crosscoder' | 'sae' | 'mixed' | 'none' | 'decoupled';

/**
 * A crosscoder checkpoint located on disk. Weights stay in the .safetensors file; graphs point at
 * them as external data. Index 0 of every model axis is the BASE model, index 1 the CHAT model.
 */
export interface CrosscoderCheckpoint {
  /** Folder holding model.safetensors (+ config.json, trainer_config.json). */
  dir: string;
  /** Path of the .safetensors file. */
  file: string;
  format: 'dictionary_learning' | 'ckkissane';
  /** 'relu' = L1 CrossCoder; 'batchtopk' = BatchTopKCrossCoder at inference (stored threshold). */
  kind: 'relu' | 'batchtopk';
  dModel: number;
  dictSize: number;
  codeNormalization: CodeNormalization;
  /** BatchTopK inference threshold on scaled values (method.md 2.3). */
  threshold?: number;
  k?: number;
  /** [2, d, D] in both layouts. */
  encoderWeight: TensorRef;
  /** [D], or legacy [2, D] (summed over models). */
  encoderBias: TensorRef;
  /** [2, D, d] when decoderLayout is 'LDd' (dictionary_learning), [D, 2, d] when 'DLd' (ckkissane). */
  decoderWeight: TensorRef;
  decoderLayout: 'LDd' | 'DLd';
  /** [2, d]. */
  decoderBias: TensorRef;
  /** Identity from the weights' content (a digest of every byte): keys caches and the annotation file. */
  identity: string;
  /** Identities earlier versions gave this checkpoint (annotation files may still use them). */
  formerIdentities?: string[];
}

export type LatentTag = 'chat-only' | 'base-only' | 'shared' | 'other';
export const TAG_CODES: readonly LatentTag[] = ['other', 'chat-only', 'base-only', 'shared'];

/**
 * Per-latent static metrics (method.md 4.1, 4.2), computed once per crosscoder and cached.
 * deltaNorm is in the PAPER's convention: 1 = chat-only, 0 = base-only (dec_norm_diff = 1 - deltaNorm).
 */
export interface LatentMetrics {
  dictSize: number;
  decNormBase: Float32Array;
  decNormChat: Float32Array;
  deltaNorm: Float32Array;
  decCos: Float32Array;
  encNormBase: Float32Array;
  encNormChat: Float32Array;
  encCos: Float32Array;
  /** s_j used for scaled activations, per the checkpoint's code normalisation. */
  scale: Float32Array;
  /** Index into TAG_CODES. */
  tag: Uint8Array;
}

/** One token of an analysed text. start/end are UTF-16 offsets into the document, null when the token is not in it. */
export interface TokenInfo {
  id: number;
  /** The token's text as it appears (byte-fallback tokens merged; "▁" shown as a space). */
  text: string;
  start: number | null;
  end: number | null;
  /** A chat-template ("ctrl") token: <start_of_turn>{role}\n or <end_of_turn>\n (method.md 8). */
  template: boolean;
  /** A special token (<bos>, <start_of_turn>, ...). */
  special: boolean;
}

export interface TokenizedDocument {
  kind: 'plain' | 'chat';
  tokens: TokenInfo[];
}

export interface LatentActivation {
  latent: number;
  act: number;
}

/** Per-latent summary over one analysed text (scaled activations). */
export interface LatentSummary {
  latent: number;
  max: number;
  count: number;
  argmaxToken: number;
}

/**
 * LatentSummary for every latent active in a text, as columns (entry i of each is one latent), by max
 * descending, then latent id ascending. Columns, not objects: a dense crosscoder fires tens of thousands of
 * latents on a long text, and typed arrays cross from the worker to the extension host as one copy each.
 */
export interface LatentRanking {
  latent: Int32Array;
  max: Float32Array;
  count: Int32Array;
  argmaxToken: Int32Array;
}

export interface AnalysisResult {
  bundle: BundleInfo;
  provider: ProviderInUse;
  /** Why a preferred provider was not used (each one skipped, and why). */
  providerNote?: string;
  /** The WebGPU adapter, when the provider is webgpu. */
  adapter?: string;
  kind: 'plain' | 'chat';
  tokens: TokenInfo[];
  /** Per token, its top-k latents by scaled activation, descending, zeros dropped. */
  top: LatentActivation[][];
  /** Latents active anywhere in the text, by max descending. */
  latents: LatentRanking;
  /**
   * Full per-token scaled activations for the latents asked for (AnalyzeOptions.latents), and with
   * AnalyzeOptions.contributions each model's contribution norm f_j * ||d_j^m|| per token.
   */
  selected: { latent: number; acts: number[]; contributions?: { base: number[]; chat: number[] } }[];
}

export interface AnalyzeOptions {
  /** Per-token top-k (default 10). */
  topK?: number;
  /** Latents whose full activation vectors are wanted. */
  latents?: number[];
  /** Also give, for those latents, each model's contribution norm f_j * ||d_j^m|| per token. */
  contributions?: boolean;
}

export interface BundleInfo {
  name: string;
  dir: string;
  layer: number;
  dModel: number;
  dictSize: number;
  baseModel: string;
  chatModel: string;
  crosscoderKind: 'relu' | 'batchtopk';
  crosscoderIdentity: string;
  crosscoderFormerIdentities?: string[];
}
