/**
 * Which latents get the error betas (method.md 4.3, `SA: crosscoder_analysis_pipeline.py`): the N most
 * chat-leaning latents (lowest dec_norm_diff = highest Delta-norm) and a baseline of N latents sampled from
 * the "Shared" tag with a seed; or all latents. The published tables leave beta_error_* empty (NaN) elsewhere,
 * and so do we. (The error sums themselves cost nothing extra here: they derive from the activation and
 * reconstruction sums, latent-scaling.ts.)
 */
import { TAG_CODES, type LatentMetrics } from '../../types';

export type ErrorLatents = 'all' | number | 'chat-only-count';

/** 0 = no error betas, 1 = chat-leaning set, 2 = shared baseline, 3 = all latents. */
export type ErrorSetCode = 0 | 1 | 2 | 3;
export const ERROR_SET_NAMES = ['', 'chat-leaning', 'shared-baseline', 'all'] as const;

function hash32(x: number, seed: number): number {
  let h = Math.imul(x ^ Math.imul(seed, 0x9e3779b1), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function errorLatentSet(metrics: LatentMetrics, which: ErrorLatents, seed: number): Uint8Array {
  const D = metrics.dictSize;
  const out = new Uint8Array(D);
  if (which === 'all') return out.fill(3);
  const chatOnly = TAG_CODES.indexOf('chat-only');
  const shared = TAG_CODES.indexOf('shared');
  const n = which === 'chat-only-count' ? metrics.tag.reduce((c, t) => c + (t === chatOnly ? 1 : 0), 0) : Math.min(which, D);
  const byDelta = Array.from({ length: D }, (_, j) => j)
    .filter((j) => !Number.isNaN(metrics.deltaNorm[j]))
    .sort((a, b) => metrics.deltaNorm[b] - metrics.deltaNorm[a] || a - b);
  for (const j of byDelta.slice(0, n)) out[j] = 1;
  const pool = Array.from({ length: D }, (_, j) => j)
    .filter((j) => metrics.tag[j] === shared && out[j] === 0)
    .sort((a, b) => hash32(a, seed) - hash32(b, seed) || a - b);
  for (const j of pool.slice(0, n)) out[j] = 2;
  return out;
}
