/**
 * Turns the host's data into webview messages: typed arrays become exactly-sized ArrayBuffers (what
 * survives postMessage into a webview), latents get their briefs. No vscode import.
 */
import type { AnalysisResult, LatentMetrics } from '../engine/types';
import {
  TOKEN_OUTSIDE, TOKEN_SPECIAL, TOKEN_TEMPLATE,
  type ClassifyThresholds, type DocumentActivity, type HighlightState, type LatentBrief, type LatentTable, type TokenDocument, type TokenExportData,
} from '../protocol/messages';
import type { HighlightData, LatentStats } from './highlight-series';
import { t } from '../protocol/l10n';

/** A copy of the typed array's elements in an ArrayBuffer of exactly their size. */
export function toBuffer(a: Float32Array | Int32Array | Uint32Array | Uint8Array): ArrayBuffer {
  return a.slice().buffer as ArrayBuffer;
}

export interface LatentFacts {
  metrics: LatentMetrics | undefined;
  stats: LatentStats | undefined;
  label(latent: number): string;
}

export function latentBrief(latent: number, facts: LatentFacts): LatentBrief {
  return {
    latent,
    deltaNorm: facts.metrics?.deltaNorm[latent] ?? NaN,
    nuError: facts.stats?.nuError?.[latent] ?? NaN,
    nuReconstruction: facts.stats?.nuReconstruction?.[latent] ?? NaN,
    label: facts.label(latent),
  };
}

/** Latents listed in the per-token top-k lists, each once. */
export function latentsInTop(result: AnalysisResult): number[] {
  const seen = new Set<number>();
  for (const row of result.top) for (const r of row) seen.add(r.latent);
  return [...seen].sort((a, b) => a - b);
}

/** The token panel shows at most this many tokens (the first ones); the editor still gets every token. */
export const MAX_PANEL_TOKENS = 20_000;

export function tokenDocument(result: AnalysisResult, title: string, topK: number, facts: LatentFacts, thresholds: ClassifyThresholds, maxTokens = MAX_PANEL_TOKENS): TokenDocument {
  const T = Math.min(result.tokens.length, maxTokens);
  const ids = new Int32Array(T);
  const flags = new Uint8Array(T);
  let longest = 0;
  for (let t = 0; t < T; t++) longest = Math.max(longest, result.top[t].length);
  const k = Math.max(1, Math.min(topK, longest));
  const topLatents = new Int32Array(T * k).fill(-1);
  const topActs = new Float32Array(T * k);
  const texts: string[] = new Array(T);
  const seen = new Set<number>();
  for (let t = 0; t < T; t++) {
    const tok = result.tokens[t];
    texts[t] = tok.text;
    ids[t] = tok.id;
    flags[t] = (tok.template ? TOKEN_TEMPLATE : 0) | (tok.special ? TOKEN_SPECIAL : 0) | (tok.start === null ? TOKEN_OUTSIDE : 0);
    result.top[t].slice(0, k).forEach((r, i) => {
      topLatents[t * k + i] = r.latent;
      topActs[t * k + i] = r.act;
      seen.add(r.latent);
    });
  }
  const shown = T < result.tokens.length ? ` ${t('(first {0} of {1} tokens)', T.toLocaleString('en-US'), result.tokens.length.toLocaleString('en-US'))}` : '';
  return {
    title: title + shown, bundle: result.bundle.name, provider: result.provider, kind: result.kind,
    texts,
    ids: toBuffer(ids), flags: toBuffer(flags), topK: k, topLatents: toBuffer(topLatents), topActs: toBuffer(topActs),
    latents: [...seen].sort((a, b) => a - b).map((j) => latentBrief(j, facts)),
    thresholds,
  };
}

export function highlightState(h: HighlightData, maxTokens = MAX_PANEL_TOKENS): HighlightState {
  return {
    mode: h.mode, note: h.note,
    series: h.series.map((s) => ({ latent: s.latent, name: s.name, acts: toBuffer(s.acts.subarray(0, maxTokens)), max: s.max, maxSource: s.maxSource, approximate: s.approximate })),
  };
}

export function latentTable(bundle: string, metrics: LatentMetrics, stats: LatentStats | undefined, thresholds: ClassifyThresholds): LatentTable {
  const opt = (a: Float32Array | undefined) => (a ? toBuffer(a) : undefined);
  return {
    dictSize: metrics.dictSize, bundle,
    deltaNorm: toBuffer(metrics.deltaNorm), decCos: toBuffer(metrics.decCos),
    nuError: opt(stats?.nuError), nuReconstruction: opt(stats?.nuReconstruction),
    freq: opt(stats?.freq), maxAct: opt(stats?.maxAct),
    thresholds,
  };
}

export function documentActivity(result: AnalysisResult, title: string): DocumentActivity {
  return {
    title,
    latents: toBuffer(Uint32Array.from(result.latents.latent)),
    maxes: toBuffer(result.latents.max),
  };
}

export function exportData(result: AnalysisResult, title: string, h: HighlightData): TokenExportData {
  return {
    title, note: h.note,
    texts: result.tokens.map((t) => t.text),
    ids: result.tokens.map((t) => t.id),
    flags: result.tokens.map((t) => (t.template ? TOKEN_TEMPLATE : 0) | (t.special ? TOKEN_SPECIAL : 0) | (t.start === null ? TOKEN_OUTSIDE : 0)),
    series: h.series.map((s, slot) => ({
      name: s.name, acts: Array.from(s.acts), max: s.max, maxSource: s.maxSource,
      hue: h.mode === 'chat-specificity' ? 'chat' : slot === 0 ? 'first' : 'second',
    })),
  };
}
