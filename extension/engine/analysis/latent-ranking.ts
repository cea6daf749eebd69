/**
 * The document's firing latents, strongest first (ties: lower latent id first), as columns. A random or dense
 * crosscoder fires most of its 73,728 latents on a long document: as objects, sorting them with a comparator
 * took 60-140 ms of a live append, and copying them from the worker to the extension host took about 100 ms
 * of the host's thread per update; sorting packed numeric keys natively takes about 10 ms, and typed columns
 * copy in well under one.
 */
import type { LatentRanking, LatentSummary } from '../types';

/** Latent ids take at most this many bits of a packed key (32 bits of the maximum above them, 53 in all). */
const ID_BITS = 21;

/** The float32 `bits` mapped to a uint32 with the same order as the floats (-0 as +0). */
function orderedBits(bits: number): number {
  if (bits === 0x80000000) return 0x80000000;
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** Latent ids with count > 0, by descending max, then ascending id. */
function rankedIds(max: Float32Array, count: Int32Array): Int32Array {
  const D = max.length;
  if (D > 2 ** ID_BITS) {
    const ids: number[] = [];
    for (let j = 0; j < D; j++) if (count[j] > 0) ids.push(j);
    return Int32Array.from(ids.sort((a, b) => max[b] - max[a] || a - b));
  }
  const bits = new Uint32Array(max.buffer, max.byteOffset, D);
  const idSpan = 2 ** ID_BITS;
  const keys = new Float64Array(D);
  let n = 0;
  // Ascending keys = ascending max, then descending id; read backwards, that is the order wanted.
  for (let j = 0; j < D; j++) if (count[j] > 0) keys[n++] = orderedBits(bits[j]) * idSpan + (idSpan - 1 - j);
  const sorted = keys.subarray(0, n).sort();
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = idSpan - 1 - (sorted[n - 1 - i] % idSpan);
  return ids;
}

/** The latents with count > 0 of a per-latent summary, ranked. */
export function rankLatents(max: Float32Array, count: Int32Array, argmax: Int32Array): LatentRanking {
  const latent = rankedIds(max, count);
  const n = latent.length;
  const r: LatentRanking = { latent, max: new Float32Array(n), count: new Int32Array(n), argmaxToken: new Int32Array(n) };
  for (let i = 0; i < n; i++) {
    const j = latent[i];
    r.max[i] = max[j];
    r.count[i] = count[j];
    r.argmaxToken[i] = argmax[j];
  }
  return r;
}

/** Entry i of a ranking. */
export function rankedLatent(r: LatentRanking, i: number): LatentSummary {
  return { latent: r.latent[i], max: r.max[i], count: r.count[i], argmaxToken: r.argmaxToken[i] };
}

/** The first `n` entries of a ranking (all by default). */
export function rankedLatents(r: LatentRanking, n = r.latent.length): LatentSummary[] {
  return Array.from({ length: Math.min(n, r.latent.length) }, (_, i) => rankedLatent(r, i));
}

/** A ranking with no latents (a text nothing was analysed over). */
export function emptyRanking(): LatentRanking {
  return { latent: new Int32Array(0), max: new Float32Array(0), count: new Int32Array(0), argmaxToken: new Int32Array(0) };
}
