// The images rollup (migration 0011): folding the changes triggers appended
// into it, and reading its buckets for GET /v1/stats.
import type { Queryable } from '../pool.js';
import type { Histogram } from '../stats-histogram.js';

/** Bucket sizes the rollup keeps, in seconds. */
export const ROLLUP_RESOLUTIONS = [60, 300, 3600] as const;
export type RollupResolution = (typeof ROLLUP_RESOLUTIONS)[number];

/**
 * Moves the image changes not folded yet into the rollup (one fold at a
 * time across every process: a second waits for the first, then folds what
 * came since). Returns how many change lines it moved. A read of the rollup
 * after it sees every image finished before it began.
 */
export async function foldImageStats(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ moved: string }>('SELECT image_stats_fold()::text AS moved');
  return Number(rows[0]?.moved ?? 0);
}

/** One bucket of the rollup: images finished in [t, t + resolution). */
interface RollupCounts {
  /** Start, ms since the epoch. */
  t: number;
  done: number;
  failed: number;
  /** Of `done`, answered from the cache. */
  cacheHits: number;
}

/** A bucket with its percentiles as histogram bins (stats-histogram.ts reads them as ms); null where it has no such image. */
export interface RollupBucketQuantiles extends RollupCounts {
  latencyP50: number | null;
  latencyP95: number | null;
  decodeP50: number | null;
  preprocessP50: number | null;
  inferenceP50: number | null;
  postprocessP50: number | null;
}

/** A bucket with its histograms, to merge with others into a longer step. */
export interface RollupBucket extends RollupCounts {
  /** Queued to finished, done and failed images. */
  latency: Histogram;
  /** Per stage, images the model ran on. */
  decode: Histogram;
  preprocess: Histogram;
  inference: Histogram;
  postprocess: Histogram;
}

/** The rollup's buckets of `resolution` seconds that start in [from, to) with their percentiles (no histograms), oldest first. */
export async function rollupBucketQuantiles(db: Queryable, resolution: RollupResolution, from: Date, to: Date): Promise<RollupBucketQuantiles[]> {
  const { rows } = await db.query<RollupBucketQuantiles>(
    `SELECT (extract(epoch FROM bucket) * 1000)::float8 AS t, done, failed, cache_hits AS "cacheHits",
            latency_p50_bin AS "latencyP50", latency_p95_bin AS "latencyP95", decode_p50_bin AS "decodeP50",
            preprocess_p50_bin AS "preprocessP50", inference_p50_bin AS "inferenceP50", postprocess_p50_bin AS "postprocessP50"
       FROM image_stats_rollup WHERE resolution = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket`,
    [resolution, from, to],
  );
  return rows;
}

/** The rollup's buckets of `resolution` seconds that start in [from, to) with their histograms, oldest first (through its primary key). */
export async function rollupBuckets(db: Queryable, resolution: RollupResolution, from: Date, to: Date): Promise<RollupBucket[]> {
  const { rows } = await db.query<RollupBucket>(
    `SELECT (extract(epoch FROM bucket) * 1000)::float8 AS t, done, failed, cache_hits AS "cacheHits", latency_ms AS latency,
            decode_ms AS decode, preprocess_ms AS preprocess, inference_ms AS inference, postprocess_ms AS postprocess
       FROM image_stats_rollup WHERE resolution = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket`,
    [resolution, from, to],
  );
  return rows;
}
