/**
 * The document's firing latents, strongest first (ties: lower latent id first). A random or dense crosscoder
 * fires most of its 73,728 latents on a long document, and a comparator sort over that many objects took
 * 60-140 ms, most of a live append's JavaScript time; sorting packed numeric keys natively takes about 10.
 */
import type { LatentSummary } from '../types';

/** Latent ids take at most this many bits of a packed key (32 bits of the maximum above them, 53 in all). */
const ID_BITS = 21;

/** The float32 `bits` mapped to a uint32 with the same order as the floats (-0 as +0). */
function orderedBits(bits: number): number {
  if (bits === 0x80000000) return 0x80000000;
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** Latents with count > 0, by descending max, then ascending latent id. */
export function rankLatents(max: Float32Array, count: Int32Array, argmax: Int32Array): LatentSummary[] {
  const D = max.length;
  const summary = (j: number): LatentSummary => ({ latent: j, max: max[j], count: count[j], argmaxToken: argmax[j] });
  if (D > 2 ** ID_BITS) {
    const out: LatentSummary[] = [];
    for (let j = 0; j < D; j++) if (count[j] > 0) out.push(summary(j));
    return out.sort((a, b) => b.max - a.max || a.latent - b.latent);
  }
  const bits = new Uint32Array(max.buffer, max.byteOffset, D);
  const idSpan = 2 ** ID_BITS;
  const keys = new Float64Array(D);
  let n = 0;
  // Ascending keys = ascending max, then descending id; read backwards, that is the order wanted.
  for (let j = 0; j < D; j++) if (count[j] > 0) keys[n++] = orderedBits(bits[j]) * idSpan + (idSpan - 1 - j);
  const sorted = keys.subarray(0, n).sort();
  const out = new Array<LatentSummary>(n);
  for (let i = 0; i < n; i++) out[i] = summary(idSpan - 1 - (sorted[n - 1 - i] % idSpan));
  return out;
}
