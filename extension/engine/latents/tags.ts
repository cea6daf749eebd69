import { TAG_CODES, type LatentTag } from '../types';

/**
 * Tag thresholds on Delta-norm in the paper's convention (1 = chat-only). Defaults are the paper's
 * (method.md 4.1): chat-only when deltaNorm > 0.9, base-only when < 0.1, shared when |deltaNorm - 0.5| < 0.1.
 * All comparisons are strict, as in the reference code (dec_norm_diff < 0.1 etc.): a value exactly on a
 * boundary is not in the band. NaN (a latent whose two decoder vectors are both zero) is 'other', as in the
 * reference table where every comparison with NaN is false.
 */
export interface TagThresholds {
  chatOnlyAbove: number;
  baseOnlyBelow: number;
  sharedHalfWidth: number;
}

export const DEFAULT_TAG_THRESHOLDS: Readonly<TagThresholds> = { chatOnlyAbove: 0.9, baseOnlyBelow: 0.1, sharedHalfWidth: 0.1 };

export function tagOf(deltaNorm: number, t: TagThresholds = DEFAULT_TAG_THRESHOLDS): LatentTag {
  if (deltaNorm > t.chatOnlyAbove) return 'chat-only';
  if (deltaNorm < t.baseOnlyBelow) return 'base-only';
  if (Math.abs(deltaNorm - 0.5) < t.sharedHalfWidth) return 'shared';
  return 'other';
}

const CODE: Record<LatentTag, number> = Object.fromEntries(TAG_CODES.map((t, i) => [t, i])) as Record<LatentTag, number>;

/** Tag codes (indices into TAG_CODES) for every latent. */
export function tagCodes(deltaNorm: ArrayLike<number>, t: TagThresholds = DEFAULT_TAG_THRESHOLDS): Uint8Array {
  const out = new Uint8Array(deltaNorm.length);
  for (let j = 0; j < deltaNorm.length; j++) out[j] = CODE[tagOf(deltaNorm[j], t)];
  return out;
}
