/**
 * The latent sets of the patching experiment (method.md 4.3 and 9, `SA: tools/setup_to_eval.py
 * arxiv_paper_half_fns`):
 * - robust: the robust chat-specific latents (chat-only by Delta-norm, nu_eps and nu_r under the verdict
 *   thresholds);
 * - pareto / antipareto halves of the filtered chat-only set: chat-only latents whose nu_eps and nu_r are both
 *   known (NaNs dropped) and within [-0.1, 2]; of those n latents, the first and the last floor(n / 2) when
 *   ranked by Delta-norm descending (the code's dec_norm_diff ascending: best = most chat-only), or by the
 *   rank-sum rank(nu_r) + rank(nu_eps) ascending (ranks among the filtered set, ties averaged as pandas'
 *   `rank()`; best = lowest). With n odd the middle latent is in neither half. Ties keep latent-id order.
 */
import { LatentDiffError } from '../../errors';
import { DEFAULT_VERDICT_THRESHOLDS, latentVerdict, type VerdictThresholds } from '../../latents/verdict';
import { TAG_CODES, type LatentMetrics } from '../../types';

export const LATENT_SET_NAMES = ['robust', 'pareto-delta-norm', 'antipareto-delta-norm', 'pareto-nu', 'antipareto-nu'] as const;
export type LatentSetName = (typeof LATENT_SET_NAMES)[number];

/** Latent Scaling ratios per latent (NaN where unknown), e.g. from LatentStats. */
export interface NuRatios {
  nuError: ArrayLike<number>;
  nuReconstruction: ArrayLike<number>;
}

export const NU_FILTER = { min: -0.1, max: 2 } as const;

export function isLatentSetName(s: string): s is LatentSetName {
  return (LATENT_SET_NAMES as readonly string[]).includes(s);
}

/** Ranks 1..n of `values`, ties given their average rank (pandas' default). */
export function averageRanks(values: readonly number[]): Float64Array {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(values.length);
  for (let i = 0; i < order.length; ) {
    let k = i;
    while (k + 1 < order.length && values[order[k + 1]] === values[order[i]]) k++;
    for (let m = i; m <= k; m++) ranks[order[m]] = (i + k) / 2 + 1;
    i = k + 1;
  }
  return ranks;
}

/** Chat-only latents with both ratios known and within NU_FILTER, ascending by id. */
export function filteredChatOnly(metrics: LatentMetrics, nu: NuRatios): number[] {
  const chatOnly = TAG_CODES.indexOf('chat-only');
  const ok = (v: number) => !Number.isNaN(v) && v >= NU_FILTER.min && v <= NU_FILTER.max;
  const out: number[] = [];
  for (let j = 0; j < metrics.dictSize; j++) {
    if (metrics.tag[j] === chatOnly && ok(nu.nuError[j]) && ok(nu.nuReconstruction[j])) out.push(j);
  }
  return out;
}

function halves(ranked: number[]): { best: number[]; worst: number[] } {
  const n = Math.floor(ranked.length / 2);
  return { best: ranked.slice(0, n), worst: ranked.slice(ranked.length - n) };
}

/** The latents of a named set, ascending by id. `source` names the statistics in errors. */
export function latentSet(
  name: LatentSetName,
  metrics: LatentMetrics,
  nu: NuRatios | undefined,
  source: string | undefined,
  thresholds: VerdictThresholds = DEFAULT_VERDICT_THRESHOLDS,
): number[] {
  if (!nu) throw new LatentDiffError(source, `the latent set "${name}" needs Latent Scaling results (nu_eps and nu_r), and there are none: compute statistics for this bundle first`, 'no-statistics');
  let chosen: number[];
  if (name === 'robust') {
    chosen = [];
    for (let j = 0; j < metrics.dictSize; j++) {
      const v = latentVerdict(TAG_CODES[metrics.tag[j]], nu.nuError[j], nu.nuReconstruction[j], thresholds);
      if (v.verdict === 'robust-chat-specific') chosen.push(j);
    }
  } else {
    const set = filteredChatOnly(metrics, nu);
    let ranked: number[];
    if (name.endsWith('delta-norm')) {
      ranked = [...set].sort((a, b) => metrics.deltaNorm[b] - metrics.deltaNorm[a] || a - b);
    } else {
      const rEps = averageRanks(set.map((j) => nu.nuError[j]));
      const rR = averageRanks(set.map((j) => nu.nuReconstruction[j]));
      const score = new Map(set.map((j, i) => [j, rEps[i] + rR[i]]));
      ranked = [...set].sort((a, b) => score.get(a)! - score.get(b)! || a - b);
    }
    const { best, worst } = halves(ranked);
    chosen = name.startsWith('pareto') ? best : worst;
  }
  return chosen.sort((a, b) => a - b);
}
