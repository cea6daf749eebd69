/**
 * The feature_df.csv columns (method.md 7) from the static metrics and a finished scan: the paper's names and
 * conventions (dec_norm_diff = 1 - Delta-norm, tags "Chat only"/"Base only"/"Shared"/"Other", ratios base/chat),
 * then ours: delta_norm (paper convention), nu_eps, nu_r, the two artifact flags, the verdict.
 */
import type { FeatureColumn } from '../feature-df';
import type { LatentMetrics } from '../../types';
import { TAG_CODES } from '../../types';
import { latentScalingResult, type DecoderGeometry } from '../../latents/latent-scaling';
import { latentVerdict, type VerdictThresholds } from '../../latents/verdict';
import { ERROR_SET_NAMES } from './error-latents';
import type { ScanArrays } from './scan-accumulator';
import { GROUPS, GROUP_COUNT, G_ASSISTANT, G_BOS, G_CTRL, G_NON_CTRL, G_USER, gCtrlK } from './template-groups';

export const PAPER_TAGS: Record<string, string> = { 'chat-only': 'Chat only', 'base-only': 'Base only', shared: 'Shared', other: 'Other' };

/** ½((a − b)/max(a, b) + 1): dec_norm_diff with (a, b) = (base, chat); NaN when both are zero. */
function normDiff(a: number, b: number): number {
  const m = Math.max(a, b);
  return m === 0 ? NaN : 0.5 * ((a - b) / m + 1);
}

export function featureColumns(metrics: LatentMetrics, geo: DecoderGeometry, scan: ScanArrays, errorSet: Uint8Array, thresholds: VerdictThresholds): FeatureColumn[] {
  const D = metrics.dictSize;
  const num = (name: string, f: (j: number) => number): FeatureColumn => ({ name, kind: 'number', values: Float64Array.from({ length: D }, (_, j) => f(j)) });
  const ls = latentScalingResult(scan.ls, geo);
  const errBase = ls.betaErrorBase.map((v, j) => (errorSet[j] ? v : NaN));
  const errChat = ls.betaErrorChat.map((v, j) => (errorSet[j] ? v : NaN));
  const nuEps = ls.ratioError.map((v, j) => (errorSet[j] ? v : NaN));
  const tags = Array.from(metrics.tag, (t) => TAG_CODES[t]);
  const verdicts = tags.map((t, j) => latentVerdict(t, nuEps[j], ls.ratioReconstruction[j], thresholds));

  const gActive = (j: number, g: number) => scan.groupActive[j * GROUP_COUNT + g];
  const ratio = (a: number, b: number) => (b === 0 ? NaN : a / b);
  const ctrlShare = (j: number) => ratio(gActive(j, G_CTRL), gActive(j, G_CTRL) + gActive(j, G_NON_CTRL));
  const mean = (j: number, g: number) => ratio(scan.groupSum.value(j * GROUP_COUNT + g), gActive(j, g));
  const template: FeatureColumn[] = [
    num('lmsys_freq', (j) => ratio(gActive(j, G_CTRL) + gActive(j, G_NON_CTRL), scan.groupTokens[G_CTRL] + scan.groupTokens[G_NON_CTRL])),
    num('lmsys_ctrl_%', ctrlShare),
    num('lmsys_non_ctrl_%', (j) => ratio(gActive(j, G_NON_CTRL), gActive(j, G_CTRL) + gActive(j, G_NON_CTRL))),
    num('lmsys_bos_%', (j) => ratio(gActive(j, G_BOS), gActive(j, G_CTRL) + gActive(j, G_NON_CTRL) + gActive(j, G_BOS))),
    num('lmsys_assistant_%', (j) => ratio(gActive(j, G_ASSISTANT), gActive(j, G_ASSISTANT) + gActive(j, G_USER))),
    num('lmsys_user_%', (j) => ratio(gActive(j, G_USER), gActive(j, G_ASSISTANT) + gActive(j, G_USER))),
    ...Array.from({ length: 10 }, (_, i) => num(`lmsys_ctrl_${i + 1}_%`, (j) => ratio(gActive(j, gCtrlK(i + 1)), gActive(j, G_CTRL)))),
    num('lmsys_avg_act', (j) => {
      const p = ctrlShare(j);
      return mean(j, G_CTRL) * p + mean(j, G_NON_CTRL) * (1 - p);
    }),
    ...GROUPS.flatMap((g, gi) => [
      num(`lmsys_${g}_freq`, (j) => ratio(gActive(j, gi), scan.groupTokens[gi])),
      num(`${g}_mean`, (j) => mean(j, gi)),
      num(`${g}_max`, (j) => (gActive(j, gi) ? scan.groupMax[j * GROUP_COUNT + gi] : NaN)),
    ]),
  ];

  return [
    num('dec_base_norm', (j) => metrics.decNormBase[j]),
    num('dec_instruct_norm', (j) => metrics.decNormChat[j]),
    num('dec_norm_diff', (j) => normDiff(metrics.decNormBase[j], metrics.decNormChat[j])),
    { name: 'tag', kind: 'string', values: tags.map((t) => PAPER_TAGS[t]) },
    num('enc_base_norm', (j) => metrics.encNormBase[j]),
    num('enc_instruct_norm', (j) => metrics.encNormChat[j]),
    num('enc_norm_diff', (j) => normDiff(metrics.encNormBase[j], metrics.encNormChat[j])),
    num('dec_cos_sim', (j) => metrics.decCos[j]),
    num('enc_cos_sim', (j) => metrics.encCos[j]),
    num('beta_error_base', (j) => errBase[j]),
    num('beta_error_chat', (j) => errChat[j]),
    num('beta_ratio_error', (j) => nuEps[j]),
    num('beta_reconstruction_base', (j) => ls.betaReconstructionBase[j]),
    num('beta_reconstruction_chat', (j) => ls.betaReconstructionChat[j]),
    num('beta_ratio_reconstruction', (j) => ls.ratioReconstruction[j]),
    num('beta_activation_base', (j) => ls.betaActivationBase[j]),
    num('beta_activation_chat', (j) => ls.betaActivationChat[j]),
    num('beta_activation_ratio', (j) => ls.ratioActivation[j]),
    num('beta_activation_no_bias_base', (j) => ls.betaActivationNoBiasBase[j]),
    num('beta_activation_no_bias_chat', (j) => ls.betaActivationNoBiasChat[j]),
    num('beta_activation_no_bias_ratio', (j) => ls.ratioActivationNoBias[j]),
    num('freq', (j) => ratio(scan.activeCount[j], scan.totals.tokens)),
    num('max_act', (j) => scan.maxAct[j]),
    ...template,
    num('delta_norm', (j) => normDiff(metrics.decNormChat[j], metrics.decNormBase[j])),
    num('nu_eps', (j) => nuEps[j]),
    num('nu_r', (j) => ls.ratioReconstruction[j]),
    { name: 'complete_shrinkage', kind: 'boolean', values: verdicts.map((v) => v.completeShrinkage) },
    { name: 'latent_decoupling', kind: 'boolean', values: verdicts.map((v) => v.latentDecoupling) },
    { name: 'verdict', kind: 'string', values: verdicts.map((v) => v.verdict) },
    { name: 'error_set', kind: 'string', values: Array.from(errorSet, (c) => ERROR_SET_NAMES[c]) },
  ];
}
