/**
 * Token ranges grouped by colour bucket. The editor gets a small fixed set of decoration types (one per
 * alpha bucket per hue, created once); each update only hands every type its list of ranges. No vscode
 * import: ranges are UTF-16 offsets into the document.
 */
export const BUCKETS = 8;

/** 1..BUCKETS for a positive activation (alpha = act / max, clamped), 0 for none. */
export function bucketOf(act: number, max: number): number {
  if (!(act > 0) || !(max > 0)) return 0;
  return Math.max(1, Math.min(BUCKETS, Math.ceil((act / max) * BUCKETS)));
}

export interface TokenSpan {
  start: number | null;
  end: number | null;
}

/**
 * For each bucket (index bucket - 1), the [start, end) document offsets of the tokens in it. Tokens outside
 * the document (null spans) and empty spans (the tail bytes of a byte-fallback character) are skipped.
 * `base` is added to every offset (the start of an analysed selection).
 */
export function bucketRanges(tokens: readonly TokenSpan[], acts: ArrayLike<number>, max: number, base = 0): [number, number][][] {
  const out: [number, number][][] = Array.from({ length: BUCKETS }, () => []);
  for (let i = 0; i < tokens.length; i++) {
    const { start, end } = tokens[i];
    if (start === null || end === null || end <= start) continue;
    const b = bucketOf(acts[i], max);
    if (b > 0) out[b - 1].push([base + start, base + end]);
  }
  return out;
}
