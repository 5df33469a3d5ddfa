// Summary statistics of a bench's samples.

/**
 * The p-th percentile (0 < p ≤ 100) by nearest rank: the smallest sample with
 * at least p % of the samples at or below it (p50 of 1..10 is 5, p95 is 10).
 * NaN for no samples.
 */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
