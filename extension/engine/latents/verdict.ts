/**
 * What Latent Scaling says about a latent (SPEC 1, method.md 4.3): the artifact flags and one verdict with a
 * plain-language explanation. Thresholds are settings; the defaults are the paper's figure (nu_eps < 0.2 and
 * nu_r < 0.5 for "chat-specific").
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
  text: string;
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toExponential(2) : v.toFixed(2));

/** Flags and verdict for one latent; deltaNorm in the paper's convention (1 = chat-only). */
export function latentVerdict(
  tag: LatentTag,
  deltaNorm: number,
  nuEps: number,
  nuR: number,
  t: VerdictThresholds = DEFAULT_VERDICT_THRESHOLDS,
): LatentVerdict {
  const cs = Number.isNaN(nuEps) ? undefined : nuForThreshold(nuEps, t.nuSign) >= t.completeShrinkage;
  const ld = Number.isNaN(nuR) ? undefined : nuForThreshold(nuR, t.nuSign) >= t.latentDecoupling;
  const flags = { completeShrinkage: cs, latentDecoupling: ld };
  switch (tag) {
    case 'shared':
      return { verdict: 'shared', ...flags, text: `Shared: both models use this latent (Delta-norm ${fmt(deltaNorm)}, near 0.5).` };
    case 'base-only':
      return { verdict: 'base-only', ...flags, text: `Base-only: the chat model's decoder vector is close to zero (Delta-norm ${fmt(deltaNorm)}).` };
    case 'other':
      return { verdict: 'other', ...flags, text: `Neither chat-only, base-only nor shared by Delta-norm (${fmt(deltaNorm)}).` };
    case 'chat-only':
      break;
  }
  if (cs === undefined || ld === undefined) {
    return {
      verdict: 'chat-only-unscaled', ...flags,
      text: `Looks chat-only by Delta-norm (${fmt(deltaNorm)}), but there is no Latent Scaling result for it (it never fired in the statistics data, or they were not computed), so it may still be an artifact.`,
    };
  }
  const abs = t.nuSign === 'absolute';
  const eps = abs ? `|nu_eps| = ${fmt(Math.abs(nuEps))}` : `nu_eps = ${fmt(nuEps)}`;
  const r = abs ? `|nu_r| = ${fmt(Math.abs(nuR))}` : `nu_r = ${fmt(nuR)}`;
  if (cs) {
    const also = ld ? ` Its base reconstruction also contains it through other latents (${r} >= ${t.latentDecoupling}: Latent Decoupling).` : '';
    return {
      verdict: 'complete-shrinkage', ...flags,
      text: `Looks chat-only by Delta-norm (${fmt(deltaNorm)}), but the base model's reconstruction error still contains this direction (${eps} >= ${t.completeShrinkage}): a Complete Shrinkage artifact, not a concept new to the chat model.${also}`,
    };
  }
  if (ld) {
    return {
      verdict: 'latent-decoupling', ...flags,
      text: `Looks chat-only by Delta-norm (${fmt(deltaNorm)}), but the base model's reconstruction represents it through other latents (${r} >= ${t.latentDecoupling}): a Latent Decoupling artifact, not a concept new to the chat model.`,
    };
  }
  return {
    verdict: 'robust-chat-specific', ...flags,
    text: `Robust chat-specific: chat-only by Delta-norm (${fmt(deltaNorm)}), and Latent Scaling finds little of it in the base model (${eps} < ${t.completeShrinkage}, ${r} < ${t.latentDecoupling}).`,
  };
}
