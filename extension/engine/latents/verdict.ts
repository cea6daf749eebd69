/**
 * What Latent Scaling says about a latent (SPEC 1, method.md 4.3): the artifact flags and one verdict.
 * Thresholds are settings; the defaults are the paper's figure (nu_eps < 0.2 and nu_r < 0.5 for "chat-specific").
 */
import type { LatentTag } from '../types';

/**
 * How nu is compared with the thresholds: 'signed' (the paper's main figure: nu_eps < 0.2 and nu_r < 0.5) or
 * 'absolute' (|nu|, as in its threshold sweeps), under which a strongly negative ratio is flagged too.
 */
export type NuSign = 'signed' | 'absolute';
export const NU_SIGNS: readonly NuSign[] = ['signed', 'absolute'];

export interface VerdictThresholds {
  /** Complete Shrinkage when nu_eps >= this. */
  completeShrinkage: number;
  /** Latent Decoupling when nu_r >= this. */
  latentDecoupling: number;
  /** Default 'signed'. */
  nuSign?: NuSign;
}

/** The value compared with a nu threshold under the sign convention. */
export const nuForThreshold = (nu: number, sign: NuSign | undefined) => (sign === 'absolute' ? Math.abs(nu) : nu);

export const DEFAULT_VERDICT_THRESHOLDS: Readonly<VerdictThresholds> = { completeShrinkage: 0.2, latentDecoupling: 0.5 };

export type Verdict =
  | 'robust-chat-specific'
  | 'complete-shrinkage'
  | 'latent-decoupling'
  /** Chat-only by Delta-norm, but without Latent Scaling results (never fired in the data, or not computed). */
  | 'chat-only-unscaled'
  | 'shared'
  | 'base-only'
  | 'other';

export interface LatentVerdict {
  verdict: Verdict;
  /** undefined when nu_eps is not known (NaN). */
  completeShrinkage: boolean | undefined;
  /** undefined when nu_r is not known (NaN). */
  latentDecoupling: boolean | undefined;
}

/**
 * Flags and verdict for one latent of tag `tag` (by Delta-norm). The sentence the UI shows for it is
 * protocol/latent-verdict.ts's (in the UI's language).
 */
export function latentVerdict(
  tag: LatentTag,
  nuEps: number,
  nuR: number,
  t: VerdictThresholds = DEFAULT_VERDICT_THRESHOLDS,
): LatentVerdict {
  const cs = Number.isNaN(nuEps) ? undefined : nuForThreshold(nuEps, t.nuSign) >= t.completeShrinkage;
  const ld = Number.isNaN(nuR) ? undefined : nuForThreshold(nuR, t.nuSign) >= t.latentDecoupling;
  const flags = { completeShrinkage: cs, latentDecoupling: ld };
  if (tag !== 'chat-only') return { verdict: tag, ...flags };
  if (cs === undefined || ld === undefined) return { verdict: 'chat-only-unscaled', ...flags };
  return { verdict: cs ? 'complete-shrinkage' : ld ? 'latent-decoupling' : 'robust-chat-specific', ...flags };
}
