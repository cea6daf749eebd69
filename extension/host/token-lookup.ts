/** Finding the analysed token under a document offset. No vscode import. */
import type { TokenInfo } from '../engine/types';

/** Indices of the tokens with a non-empty span in the document, in document order. */
export function spanIndex(tokens: readonly TokenInfo[]): Int32Array {
  const out: number[] = [];
  tokens.forEach((t, i) => { if (t.start !== null && t.end !== null && t.end > t.start) out.push(i); });
  return Int32Array.from(out);
}

/** Index of the token whose [start, end) holds `offset`, or -1 (binary search over spanIndex). */
export function tokenAt(tokens: readonly TokenInfo[], index: Int32Array, offset: number): number {
  let lo = 0;
  let hi = index.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[index[mid]].start! <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  if (found < 0) return -1;
  const t = tokens[index[found]];
  return offset < t.end! ? index[found] : -1;
}
