// Two settings measured in alternating rounds (A, B, B, A, …), as the
// blob-store and tracing parts do to cancel drift on a shared machine: the
// mean of each, the ratio of the means, and the ratio within each adjacent
// pair of rounds, which drift moves least.

/** What a bench of alternating rounds over the pipeline is given (the blob-store and tracing parts). */
export interface AlternatingBenchOptions {
  photos: string[];
  /** Images per round. */
  images: number;
  batchSize: number;
  /** Rounds per setting (each setting runs this many times, alternating). */
  rounds: number;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}

/** Means, ratio (of `test` to `base`) and per-pair ratios of `rounds`, each with its `setting` and images/s. */
export function compareAlternatingRounds<S extends string>(
  rounds: ReadonlyArray<{ setting: S; imagesPerSec: number }>,
  test: S,
  base: S,
): { testMean: number; baseMean: number; ratio: number; pairRatios: number[] } {
  const mean = (setting: S) => {
    const xs = rounds.filter((r) => r.setting === setting).map((r) => r.imagesPerSec);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const testMean = mean(test);
  const baseMean = mean(base);
  const pairRatios = Array.from({ length: Math.floor(rounds.length / 2) }, (_, i) => {
    const pair = rounds.slice(2 * i, 2 * i + 2);
    return pair.find((r) => r.setting === test)!.imagesPerSec / pair.find((r) => r.setting === base)!.imagesPerSec;
  });
  return { testMean, baseMean, ratio: testMean / baseMean, pairRatios };
}
