/**
 * What gets coloured: per highlighted latent (or the chat-specificity sum) one activation value per token
 * and the normalisation maximum, as the paper's dashboards do (alpha = act / max; max in this text, max
 * from statistics, or a fixed number). No vscode import: shared by decorations, token panel and export.
 */
import type { LatentStats } from '../engine/analysis/latent-stats';
import type { AnalysisResult, LatentMetrics } from '../engine/types';

export type { LatentStats };
import type { ClassifyThresholds, HighlightSeries, HighlightState } from '../protocol/messages';
import { verdictCode } from '../protocol/latent-verdict';
import { t } from '../protocol/l10n';
export type NormalizationMode = 'text-max' | 'stats-max' | 'number';

export type SeriesData = HighlightSeries<Float32Array>;
export type HighlightData = HighlightState<Float32Array>;

export type HighlightRequest =
  | { mode: 'none' }
  | { mode: 'latents'; latents: number[] }
  | { mode: 'chat-specificity' }
  /** A measured per-token value (KL) of one analysed document version, shown as one series. */
  | { mode: 'kl'; name: string; note: string; acts: Float32Array; uri: string; version: number };

export interface Normalization {
  mode: NormalizationMode;
  value: number;
}

export const NO_HIGHLIGHT: HighlightData = { mode: 'none', series: [], note: '' };

/** The latent's activation per token as far as the per-token top-k lists tell (0 where it is not listed). */
export function topKVector(result: AnalysisResult, latent: number): Float32Array {
  const out = new Float32Array(result.tokens.length);
  result.top.forEach((row, t) => {
    for (const r of row) if (r.latent === latent) { out[t] = r.act; break; }
  });
  return out;
}

/** The exact vector when the analysis computed it (AnalyzeOptions.latents), else undefined. */
export function exactVector(result: AnalysisResult, latent: number): Float32Array | undefined {
  const s = result.selected.find((x) => x.latent === latent);
  return s && Float32Array.from(s.acts);
}

export function maxOf(acts: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < acts.length; i++) if (acts[i] > m) m = acts[i];
  return m;
}

export function normalizationMax(acts: Float32Array, norm: Normalization, statsMax: number): { max: number; source: string } {
  if (norm.mode === 'number') return { max: norm.value, source: t('fixed in settings') };
  if (norm.mode === 'stats-max' && statsMax > 0) return { max: statsMax, source: t('max from statistics') };
  const source = norm.mode === 'stats-max' ? t('max in this text: no statistics for this latent') : t('max in this text');
  return { max: maxOf(acts), source };
}

export function latentSeries(result: AnalysisResult, latent: number, norm: Normalization, stats: LatentStats | undefined): SeriesData {
  const exact = exactVector(result, latent);
  const acts = exact ?? topKVector(result, latent);
  const { max, source } = normalizationMax(acts, norm, stats?.maxAct?.[latent] ?? NaN);
  return { latent, name: t('latent {0}', latent), acts, max, maxSource: source, approximate: !exact };
}

/**
 * The latents whose summed activation is "chat-specificity": the robust chat-specific ones when Latent
 * Scaling results exist, otherwise (said in `note`) every latent tagged chat-only by Delta-norm.
 */
export function chatSpecificLatents(metrics: LatentMetrics, stats: LatentStats | undefined, thresholds: ClassifyThresholds): { latents: number[]; robust: boolean; note: string } {
  const D = metrics.dictSize;
  const nuE = stats?.nuError;
  const nuR = stats?.nuReconstruction;
  const out: number[] = [];
  if (nuE && nuR) {
    for (let j = 0; j < D; j++) if (verdictCode(metrics.deltaNorm[j], nuE[j], nuR[j], thresholds) === 4) out.push(j);
    return { latents: out, robust: true, note: t('Chat-specificity: summed activation of the {0} robust chat-specific latents (chat-only, ν^ε < {1}, ν^r < {2}).', out.length, thresholds.nuError, thresholds.nuReconstruction) };
  }
  for (let j = 0; j < D; j++) if (metrics.deltaNorm[j] > thresholds.chatOnlyAbove) out.push(j);
  return {
    latents: out, robust: false,
    note: t('No Latent Scaling results yet: showing the summed activation of all {0} latents tagged chat-only by Δnorm, which includes crosscoder artifacts. Compute statistics to keep only the robust ones.', out.length),
  };
}

/** Exact vectors are requested from the engine only up to this many latents; beyond, the top-k sum is used. */
export const MAX_EXACT_LATENTS = 256;

export function chatSpecificitySeries(result: AnalysisResult, set: { latents: number[]; note: string }, norm: Normalization): SeriesData {
  const T = result.tokens.length;
  const acts = new Float32Array(T);
  const exact = new Map(result.selected.map((s) => [s.latent, s.acts]));
  const allExact = set.latents.every((j) => exact.has(j));
  if (allExact) {
    for (const j of set.latents) {
      const v = exact.get(j)!;
      for (let t = 0; t < T; t++) acts[t] += v[t];
    }
  } else {
    const member = new Set(set.latents);
    result.top.forEach((row, t) => {
      for (const r of row) if (member.has(r.latent)) acts[t] += r.act;
    });
  }
  const { max, source } = normalizationMax(acts, norm.mode === 'stats-max' ? { mode: 'text-max', value: norm.value } : norm, NaN);
  return { latent: null, name: t('chat-specificity'), acts, max, maxSource: source, approximate: !allExact };
}

/** The series of a per-token KL highlight, or undefined when it was measured on another text or version. */
export function klSeries(result: AnalysisResult, request: Extract<HighlightRequest, { mode: 'kl' }>, uri: string, version: number): SeriesData | undefined {
  if (request.uri !== uri || request.version !== version || request.acts.length !== result.tokens.length) return undefined;
  return { latent: null, name: request.name, acts: request.acts, max: maxOf(request.acts), maxSource: t('max in this text (nats)'), approximate: false };
}
