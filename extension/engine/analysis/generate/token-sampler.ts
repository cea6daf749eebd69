/**
 * Picks the next token from a position's log-probs: greedy at temperature 0, otherwise a draw from
 * softmax(logp / T) restricted to the smallest set of most likely tokens whose probability reaches top-p.
 * Deterministic for a given random source.
 */
export interface SamplingOptions {
  temperature: number;
  topP: number;
}

export function sampleToken(logProbs: Float32Array, opts: SamplingOptions, rand: () => number): number {
  let best = 0;
  for (let v = 1; v < logProbs.length; v++) if (logProbs[v] > logProbs[best]) best = v;
  if (opts.temperature === 0) return best;
  const top = logProbs[best];
  const weights = new Float64Array(logProbs.length);
  let total = 0;
  for (let v = 0; v < logProbs.length; v++) total += weights[v] = Math.exp((logProbs[v] - top) / opts.temperature);
  // Tokens by descending weight, up to the nucleus; weights that cannot matter (< total * 1e-12) are skipped.
  const order: number[] = [];
  for (let v = 0; v < logProbs.length; v++) if (weights[v] >= total * 1e-12) order.push(v);
  order.sort((a, b) => weights[b] - weights[a] || a - b);
  let kept = 0;
  let nucleus = 0;
  while (kept < order.length && (kept === 0 || nucleus < opts.topP * total)) nucleus += weights[order[kept++]];
  let r = rand() * nucleus;
  for (let i = 0; i < kept; i++) {
    r -= weights[order[i]];
    if (r < 0) return order[i];
  }
  return order[kept - 1];
}
