// Histograms of times as image_stats_rollup keeps them (migration 0011):
// jsonb objects {bin: count} over log-spaced bins, 8 per doubling, bin 80
// starting at 1 ms. The bins are the migration's image_stats_bin(), and
// quantileMs reads them as its image_stats_quantile_bin() does; these must
// stay equal to them (test/db/image-stats-rollup.test.ts checks).
//
// A quantile read from a histogram is the geometric middle of the bin that
// holds the nearest-rank sample, so it is within a factor of 2^(1/16) of that
// sample: at most 4.43 % off (RELATIVE_ERROR), at any count and any step;
// given to 4 significant digits, at most 4.5 % in all.
// Below 1/1024 ms and from about 21 days up, times share the end bins.

/** Bin → images in it; keys are whole numbers 0..TOP_BIN as strings (JSON). */
export type Histogram = Record<string, number>;

export const BINS_PER_DOUBLING = 8;
/** The bin whose lower edge is 1 ms. */
export const BIN_OF_1MS = 80;
export const TOP_BIN = 327;
/** The most a quantile read from a histogram is off, relative to the sample it stands for. */
export const RELATIVE_ERROR = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1;

/** The lower edge of bin `bin`, in ms (bin 0 also holds everything below it). */
export const binLowerMs = (bin: number): number => 2 ** ((bin - BIN_OF_1MS) / BINS_PER_DOUBLING);

/** The time a bin stands for: the geometric middle of its edges, in ms. */
export const binMiddleMs = (bin: number): number => 2 ** ((bin - BIN_OF_1MS + 0.5) / BINS_PER_DOUBLING);

/** The time a bin is reported as: its middle, in ms to 4 significant digits. */
export const reportedMs = (bin: number): number => Number(binMiddleMs(bin).toPrecision(4));

/** Adds histogram `h` into `into`, bin by bin (changes `into`). */
export function addHistogram(into: Histogram, h: Histogram): Histogram {
  for (const bin in h) into[bin] = (into[bin] ?? 0) + h[bin]!;
  return into;
}

/**
 * The q-quantile (0 < q ≤ 1) of the times in `h`, by nearest rank: the
 * middle of the bin holding the ⌈q·n⌉-th smallest, in ms to 4 significant
 * digits; null when `h` holds none. Bins with a count ≤ 0 are skipped.
 */
export function quantileMs(h: Histogram, q: number): number | null {
  let total = 0;
  for (const bin in h) if (h[bin]! > 0) total += h[bin]!;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  // Whole-number keys enumerate in ascending numeric order (ECMAScript's own-property order for array indices).
  let seen = 0;
  let last = 0;
  for (const bin in h) {
    if (h[bin]! <= 0) continue;
    seen += h[bin]!;
    last = Number(bin);
    if (seen >= rank) break;
  }
  return reportedMs(last);
}
