// The stats benchmark's data (`npm run bench -- stats`): finished images and
// health probes spread over a window, generated in SQL (nothing crosses into
// Node), through the real triggers and folds of the images rollup; and the
// same per-minute numbers computed straight from the images table, exactly,
// to compare the rollup against and to time what it saves.
import type { Pool, Queryable } from './pool.js';

/** What a generated stats bench database holds (kept as the database's comment). */
export interface StatsBenchData {
  images: number;
  /** The images finished in [windowEnd - windowMs, windowEnd). */
  windowEnd: string;
  windowMs: number;
  /** Seconds generating took, rollup folds included. */
  generatedSeconds: number;
  /** Seconds of those spent in image_stats_fold(). */
  foldSeconds: number;
}

const MARK = 'lookout stats bench: ';

/** The generated data a database holds (its comment), or undefined for one not (fully) generated. */
export async function readStatsBenchMark(db: Queryable): Promise<StatsBenchData | undefined> {
  const { rows } = await db.query<{ c: string | null }>(
    `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = current_database()`,
  );
  const comment = rows[0]?.c;
  return comment?.startsWith(MARK) ? (JSON.parse(comment.slice(MARK.length)) as StatsBenchData) : undefined;
}

/** Records what the database holds, once all of it is there. */
export async function writeStatsBenchMark(db: Queryable, data: StatsBenchData): Promise<void> {
  const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
  const literal = `'${(MARK + JSON.stringify(data)).replace(/'/g, "''")}'`;
  await db.query(`COMMENT ON DATABASE "${rows[0]!.name.replace(/"/g, '""')}" IS ${literal}`);
}

/** Images counted by the rollup's hour buckets (every finished image, once folded). */
export async function rollupImageCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string | null }>(`SELECT sum(done + failed)::text AS n FROM image_stats_rollup WHERE resolution = 3600`);
  return Number(rows[0]?.n ?? 0);
}

/** Rollup rows per bucket size (seconds). */
export async function rollupRowsPerResolution(db: Queryable): Promise<Record<number, number>> {
  const { rows } = await db.query<{ resolution: number; n: number }>('SELECT resolution, count(*)::int AS n FROM image_stats_rollup GROUP BY resolution');
  return Object.fromEntries(rows.map((r) => [r.resolution, r.n]));
}

/** Fresh planner statistics after a bulk load. */
export async function analyzeDatabase(db: Queryable): Promise<void> {
  await db.query('VACUUM ANALYZE');
}

/**
 * Inserts images `from` ≤ n < `to` in batches of 100 (batches inserted for
 * each 100th), finished at random in [windowEnd - windowMs, windowEnd): 3 %
 * failed (corrupt_image), 10 % of the rest answered from the cache; queued
 * 20 ms to 160 s before (log-uniform); stage times like blazeface on a CPU.
 * Ids are made from n, so chunks never collide and the primary key grows in order.
 */
export async function insertFinishedImages(db: Queryable, from: number, to: number, windowEnd: Date, windowMs: number): Promise<void> {
  const id = (prefix: string, n: string) => `(${prefix} || lpad(to_hex(${n}), 31, '0'))::uuid`;
  await db.query(
    `INSERT INTO batches (id, status, model, min_score, total, created_by, created_at, started_at, finished_at)
     SELECT ${id("'b'", 'b')}, 'completed', 'blazeface-back', 0.75, 100, 'key:bench0001', $3::timestamptz - $4 * interval '1 ms', $3, $3
       FROM generate_series(($1::bigint + 99) / 100, ($2::bigint - 1) / 100) AS b`,
    [from, to, windowEnd, windowMs],
  );
  await db.query(
    `WITH g AS (
       SELECT n, $3::timestamptz - random() * $4 * interval '1 ms' AS finished_at, random() AS r, random() AS q, md5((n % 20000)::text) AS h
         FROM generate_series($1::bigint, $2::bigint - 1) AS n
     )
     INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, status, error_code, error_message,
                         width, height, model_version, model_sha256, cache_hit, attempts, worker_id, timings, created_at, finished_at)
     SELECT ${id("'a'", 'n')}, ${id("'b'", 'n / 100')}, n % 100, 'photo-' || n || '.jpg', h || h, 400000 + n % 1000, h || h,
            'blazeface-back', 0.75, CASE WHEN r < 0.03 THEN 'failed' ELSE 'done' END,
            CASE WHEN r < 0.03 THEN 'corrupt_image' END, CASE WHEN r < 0.03 THEN 'image data is corrupt or truncated' END,
            1920, 1080, '1.2.0', '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2', r >= 0.03 AND q < 0.1, 1, 'bench:1',
            CASE WHEN r >= 0.03 AND q >= 0.1 THEN jsonb_build_object('decodeMs', 0.05 + random() * 0.5, 'preprocessMs', 4 + random() * 30,
                                                                  'inferenceMs', 6 + random() * 30, 'postprocessMs', 0.05 + random() * 0.4) END,
            finished_at - exp(random() * 9) * interval '20 ms', finished_at
       FROM g`,
    [from, to, windowEnd, windowMs],
  );
}

/**
 * A health probe every `intervalSeconds` over [windowEnd - windowMs,
 * windowEnd), shaped like runProbes' (components with status, value,
 * threshold, unit, message), the detect backlog rising and falling over hours.
 */
export async function insertProbeHistory(db: Queryable, windowEnd: Date, windowMs: number, intervalSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO health_checks (at, status, components)
     SELECT $1::timestamptz - s * interval '1 s', 'ok', jsonb_build_array(
              jsonb_build_object('name', 'redis', 'status', 'ok', 'value', 0.4, 'threshold', 100, 'unit', 'ms', 'message', 'PING in 0.4 ms'),
              jsonb_build_object('name', 'postgres', 'status', 'ok', 'value', 1.2, 'threshold', 100, 'unit', 'ms', 'message', 'query in 1.2 ms'),
              jsonb_build_object('name', 'blobs.disk', 'status', 'ok', 'value', 61.5, 'threshold', 10, 'unit', 'percent free', 'message', '61.5 % free'),
              jsonb_build_object('name', 'queue.detect.backlog', 'status', 'ok', 'value', w, 'threshold', 10000, 'unit', 'jobs',
                                 'message', w || ' waiting, 8 active, 0 delayed'),
              jsonb_build_object('name', 'queue.detect.workers', 'status', 'ok', 'value', 4, 'threshold', 1, 'unit', 'workers', 'message', '4 live workers'),
              jsonb_build_object('name', 'queue.batches.backlog', 'status', 'ok', 'value', 0, 'threshold', 10000, 'unit', 'jobs', 'message', '0 waiting'))
       FROM generate_series(0, ($2::bigint / 1000) - 1, $3::int) AS s,
            LATERAL (SELECT greatest(0, round(400 + 400 * sin(s / 5400.0) + random() * 50))::int AS w) AS backlog`,
    [windowEnd, windowMs, intervalSeconds],
  );
  return rowCount ?? 0;
}

/** One minute of the images table, computed exactly: counts and nearest-rank percentiles (percentile_disc). */
export interface ExactMinute {
  t: number;
  done: number;
  failed: number;
  cacheHits: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  decodeP50Ms: number | null;
  preprocessP50Ms: number | null;
  inferenceP50Ms: number | null;
  postprocessP50Ms: number | null;
}

/** GET /v1/stats's per-minute numbers over [from, to) straight from the images table (no rollup, no index on finished_at: a scan). */
export async function exactMinutes(pool: Pool, from: Date, to: Date): Promise<ExactMinute[]> {
  const stage = (name: string) => `percentile_disc(0.5) WITHIN GROUP (ORDER BY (timings ->> '${name}Ms')::float8) FILTER (WHERE NOT cache_hit)`;
  const { rows } = await pool.query<ExactMinute>(
    `WITH f AS (
       SELECT *, extract(epoch FROM finished_at - created_at)::float8 * 1000 AS latency FROM images
        WHERE finished_at >= $1 AND finished_at < $2 AND status IN ('done', 'failed')
     )
     SELECT (extract(epoch FROM date_bin('60 s', finished_at, timestamptz '1970-01-01 00:00:00+00')) * 1000)::float8 AS t,
            (count(*) FILTER (WHERE status = 'done'))::int AS done, (count(*) FILTER (WHERE status = 'failed'))::int AS failed,
            (count(*) FILTER (WHERE status = 'done' AND cache_hit))::int AS "cacheHits",
            percentile_disc(0.5) WITHIN GROUP (ORDER BY latency) AS "latencyP50Ms", percentile_disc(0.95) WITHIN GROUP (ORDER BY latency) AS "latencyP95Ms",
            ${stage('decode')} AS "decodeP50Ms", ${stage('preprocess')} AS "preprocessP50Ms",
            ${stage('inference')} AS "inferenceP50Ms", ${stage('postprocess')} AS "postprocessP50Ms"
       FROM f GROUP BY 1 ORDER BY 1`,
    [from, to],
  );
  return rows;
}
