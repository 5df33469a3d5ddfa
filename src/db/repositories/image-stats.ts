// The images rollup (migration 0011): folding the changes triggers appended
// into it, and reading its buckets for GET /v1/stats.
import type { Queryable } from '../pool.js';
import type { Histogram } from '../stats-histogram.js';

/** Bucket sizes the rollup keeps, in seconds. */
export const ROLLUP_RESOLUTIONS = [60, 3600] as const;
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
export interface RollupBucket {
  /** Start, ms since the epoch. */
  t: number;
  done: number;
  failed: number;
  /** Of `done`, answered from the cache. */
  cacheHits: number;
  /** Queued to finished, done and failed images. */
  latency: Histogram;
  /** Per stage, images the model ran on. */
  decode: Histogram;
  preprocess: Histogram;
  inference: Histogram;
  postprocess: Histogram;
}

/** The rollup's buckets of `resolution` seconds that start in [from, to), oldest first (through its primary key). */
export async function rollupBuckets(db: Queryable, resolution: RollupResolution, from: Date, to: Date): Promise<RollupBucket[]> {
  const { rows } = await db.query<RollupBucket>(
    `SELECT (extract(epoch FROM bucket) * 1000)::float8 AS t, done, failed, cache_hits AS "cacheHits", latency_ms AS latency,
            decode_ms AS decode, preprocess_ms AS preprocess, inference_ms AS inference, postprocess_ms AS postprocess
       FROM image_stats_rollup WHERE resolution = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket`,
    [resolution, from, to],
  );
  return rows;
}
