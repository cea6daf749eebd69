/**
 * Which latents get the error betas (method.md 4.3, `SA: crosscoder_analysis_pipeline.py`); the published tables
 * leave beta_error_* empty (NaN) elsewhere, and so do we. (The error sums themselves cost nothing extra here: they
 * derive from the activation and reconstruction sums, latent-scaling.ts.) The choices:
 *   - 'paper' (N, default 3,176): the paper's pipeline. The N latents with the lowest dec_norm_diff (= highest
 *     Delta-norm), computed in float32 as the paper's code does, ((|d_base| - |d_chat|) / max + 1) / 2, sorted
 *     ascending with NaN last; plus a baseline of as many latents tagged Shared, sampled exactly as pandas'
 *     `df[df.tag == "Shared"].sample(n, random_state=seed)` does (legacy-permutation.ts). The paper's code sorts
 *     with pandas' default unstable quicksort, which leaves the order of exactly equal values to numpy's
 *     introsort (it differs between numpy versions and CPUs); we break such ties by latent id, the order a stable
 *     sort of the latent-indexed table gives. The default when the crosscoder is one of the paper's.
 *   - 'chat-only': as many as are tagged chat-only (+ an equal shared baseline in a seeded hash order): the
 *     default for other crosscoders.
 *   - N: the N most chat-leaning (+ N shared in the hash order); 'all': every latent.
 */
import { legacyPermutation } from '../../legacy-permutation';
import { TAG_CODES, type LatentMetrics } from '../../types';

export type ErrorLatents = 'all' | 'chat-only' | number | { paper: number };

/** 0 = no error betas, 1 = chat-leaning set, 2 = shared baseline, 3 = all latents. */
export type ErrorSetCode = 0 | 1 | 2 | 3;
export const ERROR_SET_NAMES = ['', 'chat-leaning', 'shared-baseline', 'all'] as const;

/** The L1 crosscoder's chat-only count, the size the paper fixes for both of its crosscoders. */
export const PAPER_ERROR_LATENTS = 3176;

/**
 * The paper's crosscoders (L1 and BatchTopK, Gemma 2 2B / 2B-it, layer 13) both have 73,728 latents over
 * d_model 2,304; no other published crosscoder has this shape, so it is how we recognise them.
 */
export function isPaperCrosscoder(dictSize: number, dModel: number): boolean {
  return dictSize === 73_728 && dModel === 2_304;
}

export function defaultErrorLatents(dictSize: number, dModel: number): ErrorLatents {
  return isPaperCrosscoder(dictSize, dModel) ? { paper: PAPER_ERROR_LATENTS } : 'chat-only';
}

/** The choice as one word for the run's settings and the table's metadata: paper:N, chat-only, top:N or all. */
export function errorLatentsName(which: ErrorLatents): string {
  if (typeof which === 'number') return `top:${which}`;
  if (typeof which === 'object') return `paper:${which.paper}`;
  return which;
}

function hash32(x: number, seed: number): number {
  let h = Math.imul(x ^ Math.imul(seed, 0x9e3779b1), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** dec_norm_diff as the paper's code computes it from float32 decoder norms, in float32. */
export function paperDecNormDiff(base: number, chat: number): number {
  const f = Math.fround;
  return f(f(f(f(base - chat) / Math.max(base, chat)) + 1) / 2);
}

/** Latent ids, most chat-leaning first, by the paper's float32 dec_norm_diff (NaN last, ties by id). */
export function paperChatLeaningOrder(metrics: LatentMetrics): Int32Array {
  const key = Float32Array.from({ length: metrics.dictSize }, (_, j) => paperDecNormDiff(metrics.decNormBase[j], metrics.decNormChat[j]));
  const ids = Int32Array.from({ length: metrics.dictSize }, (_, j) => j);
  return ids.sort((a, b) => {
    const ka = key[a];
    const kb = key[b];
    if (Number.isNaN(ka) || Number.isNaN(kb)) return Number.isNaN(ka) ? (Number.isNaN(kb) ? a - b : 1) : -1;
    return ka - kb || a - b;
  });
}

export function errorLatentSet(metrics: LatentMetrics, which: ErrorLatents, seed: number): Uint8Array {
  const D = metrics.dictSize;
  const out = new Uint8Array(D);
  if (which === 'all') return out.fill(3);
  const chatOnly = TAG_CODES.indexOf('chat-only');
  const shared = TAG_CODES.indexOf('shared');
  const sharedIds = Array.from({ length: D }, (_, j) => j).filter((j) => metrics.tag[j] === shared);
  if (typeof which === 'object') {
    const n = Math.min(which.paper, D);
    const baseline = legacyPermutation(sharedIds.length, seed).subarray(0, Math.min(n, sharedIds.length));
    for (const k of baseline) out[sharedIds[k]] = 2;
    for (const j of paperChatLeaningOrder(metrics).subarray(0, n)) out[j] = 1;
    return out;
  }
  const n = which === 'chat-only' ? metrics.tag.reduce((c, t) => c + (t === chatOnly ? 1 : 0), 0) : Math.min(which, D);
  const byDelta = Array.from({ length: D }, (_, j) => j)
    .filter((j) => !Number.isNaN(metrics.deltaNorm[j]))
    .sort((a, b) => metrics.deltaNorm[b] - metrics.deltaNorm[a] || a - b);
  for (const j of byDelta.slice(0, n)) out[j] = 1;
  const pool = sharedIds.filter((j) => out[j] === 0).sort((a, b) => hash32(a, seed) - hash32(b, seed) || a - b);
  for (const j of pool.slice(0, n)) out[j] = 2;
  return out;
}
