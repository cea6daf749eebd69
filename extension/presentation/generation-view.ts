/**
 * The generation panel's data: each answer's streamed tokens as a TokenDocument-like column, coloured by
 * the session's highlight exactly like analysed text (same series code: highlighted latents, or the
 * chat-specificity sum, with the same normalisation). No vscode import.
 */
import type { GeneratedToken } from '../engine/analysis/generate/generator';
import { emptyRanking } from '../engine/analysis/latent-ranking';
import type { SteerSpec } from '../engine/analysis/generate/steering';
import type { AnalysisResult, BundleInfo, ProviderInUse } from '../engine/types';
import type { ClassifyThresholds, GenerationColumn, GenerationView, HighlightState } from '../protocol/messages';
import { chatSpecificitySeries, latentSeries, type HighlightRequest, type LatentStats, type Normalization } from './highlight-series';
import { latentBrief, toBuffer, type LatentFacts } from './webview-payloads';
import { t } from '../protocol/l10n';

export interface AnswerState {
  model: 'chat' | 'base';
  steer: SteerSpec[];
  steerOn: 'all' | 'prompt';
  tokens: GeneratedToken[];
  /** Latents whose exact activations each token carries (GeneratedToken.acts, same order). */
  exactLatents: number[];
  status: GenerationColumn['status'];
  tokensPerSecond: number;
  /** The decoded answer without its stop token, once it is finished. */
  text: string;
}

export interface GenerationState {
  run: number;
  title: string;
  settings: string;
  promptTokens: number;
  state: GenerationView['state'];
  error: string;
  insertLabel: string;
  answers: AnswerState[];
  bundle: BundleInfo;
  provider: ProviderInUse;
}

export interface ColouringContext {
  request: HighlightRequest;
  /** The chat-specific latent set (with its note) when the highlight is chat-specificity and metrics are known. */
  chatSet: { latents: number[]; note: string } | undefined;
  norm: Normalization;
  stats: LatentStats | undefined;
  facts: LatentFacts;
  thresholds: ClassifyThresholds;
}

/** The answer's tokens in the shape the highlight-series code reads (tokens, top-k lists, exact vectors). */
export function answerAsResult(answer: AnswerState, bundle: BundleInfo, provider: ProviderInUse): AnalysisResult {
  const tokens = answer.tokens.map((t) => ({ id: t.id, text: t.text, start: null, end: null, template: false, special: false }));
  const selected = answer.exactLatents.map((latent, k) => ({ latent, acts: answer.tokens.map((t) => t.acts?.[k] ?? 0) }));
  return { bundle, provider, kind: 'plain', tokens, top: answer.tokens.map((t) => t.top), latents: emptyRanking(), selected };
}

function steerText(answer: AnswerState): string {
  if (answer.steer.length === 0) return '';
  const parts = answer.steer.map((s) => `#${s.latent} × ${s.strength}`).join(', ');
  return answer.steerOn === 'all' ? t('steered: {0} (all tokens)', parts) : t('steered: {0} (prompt only)', parts);
}

function answerHighlight(result: AnalysisResult, ctx: ColouringContext): HighlightState {
  const { request } = ctx;
  if (request.mode === 'latents') {
    const series = request.latents.map((j) => latentSeries(result, j, ctx.norm, ctx.stats));
    return { mode: 'latents', note: '', series: series.map((s) => ({ ...s, acts: toBuffer(s.acts) })) };
  }
  if (request.mode === 'chat-specificity' && ctx.chatSet) {
    const s = chatSpecificitySeries(result, ctx.chatSet, ctx.norm);
    return { mode: 'chat-specificity', note: ctx.chatSet.note, series: [{ ...s, acts: toBuffer(s.acts) }] };
  }
  if (request.mode === 'kl') return { mode: 'kl', note: t('{0} is measured on analysed text, not on generated answers.', request.name), series: [] };
  return { mode: request.mode, note: request.mode === 'none' ? '' : t('Loading latent metrics…'), series: [] };
}

function column(answer: AnswerState, state: GenerationState, ctx: ColouringContext): GenerationColumn {
  const T = answer.tokens.length;
  const k = Math.max(1, ...answer.tokens.map((t) => t.top.length));
  const ids = new Int32Array(T);
  const logProbs = new Float32Array(T);
  const topLatents = new Int32Array(T * k).fill(-1);
  const topActs = new Float32Array(T * k);
  answer.tokens.forEach((t, i) => {
    ids[i] = t.id;
    logProbs[i] = t.logProb;
    t.top.forEach((r, j) => {
      topLatents[i * k + j] = r.latent;
      topActs[i * k + j] = r.act;
    });
  });
  const result = answerAsResult(answer, state.bundle, state.provider);
  return {
    model: answer.model,
    steer: steerText(answer),
    texts: answer.tokens.map((t) => t.text),
    ids: toBuffer(ids),
    logProbs: toBuffer(logProbs),
    topK: k,
    topLatents: toBuffer(topLatents),
    topActs: toBuffer(topActs),
    status: answer.status,
    tokensPerSecond: answer.tokensPerSecond,
    highlight: answerHighlight(result, ctx),
  };
}

export function generationView(state: GenerationState, ctx: ColouringContext): GenerationView {
  const latents = new Set<number>();
  for (const a of state.answers) for (const t of a.tokens) for (const r of t.top) latents.add(r.latent);
  return {
    run: state.run,
    title: state.title,
    settings: state.settings,
    promptTokens: state.promptTokens,
    state: state.state,
    error: state.error,
    insertLabel: state.insertLabel,
    columns: state.answers.map((a) => column(a, state, ctx)),
    latents: [...latents].sort((a, b) => a - b).map((j) => latentBrief(j, ctx.facts)),
    thresholds: ctx.thresholds,
  };
}
