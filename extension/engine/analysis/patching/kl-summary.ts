/**
 * Mean of per-token KL values with the paper's 95% interval 1.96 * sqrt(var / n) over tokens (method.md 9).
 * var is the unbiased sample variance (n - 1); with n < 2 the interval is 0, with n = 0 the mean is NaN
 * (null in JSON). Sums run in float64 in two passes.
 */
export interface KlSummary {
  mean: number;
  ci95: number;
  n: number;
}

export function klSummary(values: ArrayLike<number>): KlSummary {
  const n = values.length;
  if (n === 0) return { mean: NaN, ci95: 0, n: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  if (n < 2) return { mean, ci95: 0, n };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, ci95: 1.96 * Math.sqrt(ss / (n - 1) / n), n };
}
