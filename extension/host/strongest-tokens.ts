/** Stepping through the analysed tokens of a highlighted latent from the strongest down. No vscode import. */
import type { TokenSpan } from './decoration-buckets';

/** Indices of the tokens in the document with a positive activation, strongest first (ties: document order). */
export function strongestOrder(tokens: readonly TokenSpan[], acts: ArrayLike<number>): number[] {
  const order: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const { start, end } = tokens[i];
    if (start !== null && end !== null && end > start && acts[i] > 0) order.push(i);
  }
  return order.sort((a, b) => acts[b] - acts[a] || a - b);
}

/**
 * The token after (step 1) or before (step -1) `current` in `order`, wrapping around; from a token not in
 * the order (-1: none under the cursor) the strongest (step 1) or the weakest (step -1). Undefined when
 * the order is empty.
 */
export function stepStrongest(order: readonly number[], current: number, step: 1 | -1): number | undefined {
  if (order.length === 0) return undefined;
  const at = order.indexOf(current);
  if (at < 0) return step === 1 ? order[0] : order[order.length - 1];
  return order[(at + step + order.length) % order.length];
}

/** The latent with the largest activation in a token's top-k list, or undefined when the list is empty. */
export function topLatentOf(row: readonly { latent: number; act: number }[]): number | undefined {
  let best: { latent: number; act: number } | undefined;
  for (const r of row) if (!best || r.act > best.act) best = r;
  return best?.latent;
}
