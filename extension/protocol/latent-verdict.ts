/**
 * What the UI says about a latent, shared by the host (hovers, quick picks) and the webviews (badges,
 * latent page) so all of them agree. The verdict comes from the engine (latents/verdict.ts); this adds the
 * UI's badge and plain-language sentence (in the UI's language) and a cheap per-latent code for whole-table
 * filters.
 */
import { tagOf } from '../engine/latents/tags';
import { latentVerdict, nuForThreshold, type Verdict } from '../engine/latents/verdict';
import type { LatentTag } from '../engine/types';
import { t } from './l10n';
import type { ClassifyThresholds } from './messages';

export type { Verdict };

export interface VerdictView {
  tag: LatentTag;
  kind: Verdict;
  badge: string;
  sentence: string;
  /** nu_eps >= threshold (Complete Shrinkage); false when unknown. */
  shrinkage: boolean;
  /** nu_r >= threshold (Latent Decoupling); false when unknown. */
  decoupling: boolean;
}

export const DEFAULT_THRESHOLDS: Readonly<ClassifyThresholds> = {
  chatOnlyAbove: 0.9, baseOnlyBelow: 0.1, sharedHalfWidth: 0.1, nuError: 0.2, nuReconstruction: 0.5,
};

/** The badge of a verdict ('artifact': Complete Shrinkage and Latent Decoupling both), in the UI's language. */
function badge(kind: Verdict | 'artifact'): string {
  switch (kind) {
    case 'robust-chat-specific': return t('robust chat');
    case 'complete-shrinkage': return t('shrinkage');
    case 'latent-decoupling': return t('decoupling');
    case 'chat-only-unscaled': return t('chat-only?');
    case 'shared': return t('shared');
    case 'base-only': return t('base-only');
    case 'other': return t('other');
    case 'artifact': return t('artifact');
  }
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toExponential(2) : v.toFixed(2));

/** The plain-language explanation of a verdict, with the numbers and thresholds that decided it. */
function sentence(kind: Verdict, deltaNorm: number, nuError: number, nuReconstruction: number, thresholds: ClassifyThresholds, decoupling: boolean): string {
  const dn = fmt(deltaNorm);
  const abs = thresholds.nuSign === 'absolute';
  const eps = abs ? `|nu_eps| = ${fmt(Math.abs(nuError))}` : `nu_eps = ${fmt(nuError)}`;
  const r = abs ? `|nu_r| = ${fmt(Math.abs(nuReconstruction))}` : `nu_r = ${fmt(nuReconstruction)}`;
  switch (kind) {
    case 'shared': return t('Shared: both models use this latent (Delta-norm {0}, near 0.5).', dn);
    case 'base-only': return t('Base-only: the chat model\'s decoder vector is close to zero (Delta-norm {0}).', dn);
    case 'other': return t('Neither chat-only, base-only nor shared by Delta-norm ({0}).', dn);
    case 'chat-only-unscaled':
      return t('Looks chat-only by Delta-norm ({0}), but there is no Latent Scaling result for it (it never fired in the statistics data, or they were not computed), so it may still be an artifact.', dn);
    case 'complete-shrinkage': {
      const cs = t('Looks chat-only by Delta-norm ({0}), but the base model\'s reconstruction error still contains this direction ({1} >= {2}): a Complete Shrinkage artifact, not a concept new to the chat model.', dn, eps, thresholds.nuError);
      return decoupling ? `${cs} ${t('Its base reconstruction also contains it through other latents ({0} >= {1}: Latent Decoupling).', r, thresholds.nuReconstruction)}` : cs;
    }
    case 'latent-decoupling':
      return t('Looks chat-only by Delta-norm ({0}), but the base model\'s reconstruction represents it through other latents ({1} >= {2}): a Latent Decoupling artifact, not a concept new to the chat model.', dn, r, thresholds.nuReconstruction);
    case 'robust-chat-specific':
      return t('Robust chat-specific: chat-only by Delta-norm ({0}), and Latent Scaling finds little of it in the base model ({1} < {2}, {3} < {4}).', dn, eps, thresholds.nuError, r, thresholds.nuReconstruction);
  }
}

export function verdictOf(deltaNorm: number, nuError: number, nuReconstruction: number, t: ClassifyThresholds): VerdictView {
  const tag = tagOf(deltaNorm, t);
  const v = latentVerdict(tag, nuError, nuReconstruction, { completeShrinkage: t.nuError, latentDecoupling: t.nuReconstruction, nuSign: t.nuSign });
  const both = v.verdict === 'complete-shrinkage' && v.latentDecoupling === true;
  return {
    tag, kind: v.verdict, badge: badge(both ? 'artifact' : v.verdict), sentence: sentence(v.verdict, deltaNorm, nuError, nuReconstruction, t, v.latentDecoupling === true),
    shrinkage: v.completeShrinkage === true, decoupling: v.latentDecoupling === true,
  };
}

/**
 * Verdict codes for whole-table work (73,728 latents per keystroke): the same decision as verdictOf without
 * building sentences. Codes 0-2: other, base-only, shared; 3: chat-only without Latent Scaling results;
 * 4: robust chat-specific; 5: Complete Shrinkage only; 6: Latent Decoupling only; 7: both.
 */
export const VERDICT_CODE_KINDS: readonly Verdict[] = [
  'other', 'base-only', 'shared', 'chat-only-unscaled', 'robust-chat-specific', 'complete-shrinkage', 'latent-decoupling', 'complete-shrinkage',
];
const BADGE_OF_CODE: readonly (Verdict | 'artifact')[] = ['other', 'base-only', 'shared', 'chat-only-unscaled', 'robust-chat-specific', 'complete-shrinkage', 'latent-decoupling', 'artifact'];

export function verdictCodeBadge(code: number): string {
  return badge(BADGE_OF_CODE[code]);
}

export function verdictCode(deltaNorm: number, nuError: number, nuReconstruction: number, t: ClassifyThresholds): number {
  if (deltaNorm > t.chatOnlyAbove) {
    if (Number.isNaN(nuError) || Number.isNaN(nuReconstruction)) return 3;
    const cs = nuForThreshold(nuError, t.nuSign) >= t.nuError;
    const ld = nuForThreshold(nuReconstruction, t.nuSign) >= t.nuReconstruction;
    return cs ? (ld ? 7 : 5) : ld ? 6 : 4;
  }
  if (deltaNorm < t.baseOnlyBelow) return 1;
  if (Math.abs(deltaNorm - 0.5) < t.sharedHalfWidth) return 2;
  return 0;
}

/** Robust chat-specific in the paper's sense (chat-only, nu_eps < threshold, nu_r < threshold; NaN fails). */
export function isRobustChatSpecific(deltaNorm: number, nuError: number, nuReconstruction: number, t: ClassifyThresholds): boolean {
  return verdictCode(deltaNorm, nuError, nuReconstruction, t) === 4;
}
