// The fleet over time (issue 19): GET /v1/stats reads a rollup of the images
// table, never the table itself, so it costs the same at ten million images
// as at ten.
//
// image_stats_rollup holds, per bucket of finished_at (a minute, 5 minutes
// and an hour: a step reads the largest that divides it), how many images
// finished done, failed and answered from the cache, and histograms of their
// queued-to-finished latency and, for images the model ran on, of each
// stage's time. Histograms are jsonb objects
// {bin: count} over log-spaced bins, 8 per doubling: bin b holds the times
// from 2^((b - 80) / 8) ms up to 2^((b - 79) / 8) ms (bin 0 also everything
// below 1/1024 ms, bin 327 everything from 2^30.875 ms, about 21 days, up).
// Counts and histograms add and subtract, so buckets merge into any step and
// a change to a row is undone exactly. Each bucket also keeps its
// histograms' percentiles (as bins, recomputed by a trigger whenever the row
// is written), so a step of exactly one bucket reads six numbers a row
// instead of five histograms.
//
// Kept equal to what the images table holds, without a row every worker
// fights over: triggers append, for each finished row a statement writes, a
// +1 line to image_stats_pending, and for each finished row it changes or
// deletes a -1 line (its old values), in the statement's own transaction, so
// a retried job that finishes an image again replaces its contribution, a
// deleted or pruned batch takes its images out, and a rolled-back statement
// leaves nothing. Appending takes no lock another worker waits on.
// image_stats_fold() moves the pending lines into the rollup in one
// transaction, one fold at a time (an advisory lock): each line is deleted
// by exactly one fold, so every change counts once. GET /v1/stats folds before
// it reads, and so does every health probe, which keeps the pending lines to
// about HEALTH_INTERVAL's worth.
//
// The migration locks images against writes, creates the triggers and
// counts every finished image already there, in one transaction (writes to
// images wait for it: minutes at ten million images, see docs/benchmarks.md).
//
// The detect backlog is already recorded by every health probe (component
// queue.detect.backlog, jobs waiting); health_checks.detect_waiting is that
// value, extracted once when the row is written (a stored generated column,
// computed for the rows already there too), so a chart of it reads a column
// through the health_checks_at index instead of every probe's JSON.
import type { Migration } from './migration.js';

/** One fold at a time; 'stat'. */
const FOLD_LOCK = 0x73746174;

/** The pending line of image row `r` (a finished one), as a select list: sign, finished_at, failed, cache_hit, and the bins. */
function pendingLine(sign: 1 | -1, r: string): string {
  const stage = (name: string) =>
    `CASE WHEN ${r}.status = 'done' AND NOT ${r}.cache_hit AND jsonb_typeof(${r}.timings -> '${name}') = 'number' ` +
    `THEN image_stats_bin((${r}.timings ->> '${name}')::float8) END`;
  return `${sign}, ${r}.finished_at, ${r}.status = 'failed', ${r}.cache_hit,
          image_stats_bin(extract(epoch FROM ${r}.finished_at - ${r}.created_at)::float8 * 1000),
          ${stage('decodeMs')}, ${stage('preprocessMs')}, ${stage('inferenceMs')}, ${stage('postprocessMs')}`;
}
const finished = (r: string) => `${r}.status IN ('done', 'failed') AND ${r}.finished_at IS NOT NULL`;

const EPOCH = "timestamptz '1970-01-01 00:00:00+00'";
const METRIC_COLUMNS = ['latency', 'decode', 'preprocess', 'inference', 'postprocess'] as const;

/**
 * The common table expressions that sum pending-shaped lines (the CTE or
 * table `lines`, with image_stats_pending's columns) per bucket at every
 * resolution: `counts` and `hists`. Lines are summed per minute first, and
 * the minutes into 5 minutes and hours, so a backfill of many images
 * aggregates each line once, not once per resolution.
 */
function summedCtes(lines: string): string {
  const hist = (code: number) => `coalesce(jsonb_object_agg(bin, n) FILTER (WHERE metric = ${code}), '{}')`;
  const minute = (column: string) => `date_bin('60 s', ${column}, ${EPOCH})`;
  const up = (column: string) => `date_bin(make_interval(secs => r.seconds), ${column}, ${EPOCH})`;
  const metrics = METRIC_COLUMNS.map((m, code) => `(${code}, l.${m}_bin)`).join(', ');
  return `
    minute_counts AS (
      SELECT ${minute('finished_at')} AS bucket,
             coalesce(sum(sign) FILTER (WHERE NOT failed), 0) AS done,
             coalesce(sum(sign) FILTER (WHERE failed), 0) AS failed,
             coalesce(sum(sign) FILTER (WHERE NOT failed AND cache_hit), 0) AS cache_hits
        FROM ${lines} GROUP BY 1
    ), minute_bins AS (
      SELECT ${minute('l.finished_at')} AS bucket, m.metric, m.bin, sum(l.sign) AS n
        FROM ${lines} l CROSS JOIN LATERAL (VALUES ${metrics}) AS m (metric, bin)
       WHERE m.bin IS NOT NULL
       GROUP BY 1, 2, 3
      HAVING sum(l.sign) <> 0
    ), counts AS (
      SELECT r.seconds AS resolution, ${up('c.bucket')} AS bucket,
             sum(c.done)::int AS done, sum(c.failed)::int AS failed, sum(c.cache_hits)::int AS cache_hits
        FROM minute_counts c CROSS JOIN (VALUES (60), (300), (3600)) AS r (seconds)
       GROUP BY 1, 2
    ), bins AS (
      SELECT r.seconds AS resolution, ${up('b.bucket')} AS bucket, b.metric, b.bin, sum(b.n)::int AS n
        FROM minute_bins b CROSS JOIN (VALUES (60), (300), (3600)) AS r (seconds)
       GROUP BY 1, 2, 3, 4
      HAVING sum(b.n) <> 0
    ), hists AS (
      SELECT resolution, bucket, ${METRIC_COLUMNS.map((m, code) => `${hist(code)} AS ${m}_ms`).join(', ')}
        FROM bins GROUP BY resolution, bucket
    )`;
}

/**
 * Adds the sums of summedCtes to the rollup, in bucket order (a fold is
 * alone anyway; the order keeps it deadlock-free should that change).
 */
function addToRollup(): string {
  const merge = (column: string) => `${column} = image_stats_hist_add(s.${column}, excluded.${column})`;
  return `
    INSERT INTO image_stats_rollup AS s (resolution, bucket, done, failed, cache_hits, latency_ms, decode_ms, preprocess_ms, inference_ms, postprocess_ms)
    SELECT c.resolution, c.bucket, c.done, c.failed, c.cache_hits, coalesce(h.latency_ms, '{}'), coalesce(h.decode_ms, '{}'),
           coalesce(h.preprocess_ms, '{}'), coalesce(h.inference_ms, '{}'), coalesce(h.postprocess_ms, '{}')
      FROM counts c LEFT JOIN hists h ON h.resolution = c.resolution AND h.bucket = c.bucket
     WHERE c.done <> 0 OR c.failed <> 0 OR c.cache_hits <> 0 OR h.bucket IS NOT NULL
     ORDER BY c.resolution, c.bucket
    ON CONFLICT (resolution, bucket) DO UPDATE SET
      done = s.done + excluded.done, failed = s.failed + excluded.failed, cache_hits = s.cache_hits + excluded.cache_hits,
      ${merge('latency_ms')}, ${merge('decode_ms')}, ${merge('preprocess_ms')}, ${merge('inference_ms')}, ${merge('postprocess_ms')}`;
}

const PENDING_COLUMNS = 'sign, finished_at, failed, cache_hit, latency_bin, decode_bin, preprocess_bin, inference_bin, postprocess_bin';

export const imageStatsRollup: Migration = {
  name: '0011-image-stats-rollup',
  async up(db) {
    await db.query(`
      -- No image is written between the backfill and the triggers.
      LOCK TABLE images IN SHARE ROW EXCLUSIVE MODE;

      CREATE TABLE image_stats_rollup (
        resolution integer NOT NULL CHECK (resolution IN (60, 300, 3600)),
        bucket timestamptz NOT NULL,
        done integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        cache_hits integer NOT NULL DEFAULT 0,
        latency_ms jsonb NOT NULL DEFAULT '{}',
        decode_ms jsonb NOT NULL DEFAULT '{}',
        preprocess_ms jsonb NOT NULL DEFAULT '{}',
        inference_ms jsonb NOT NULL DEFAULT '{}',
        postprocess_ms jsonb NOT NULL DEFAULT '{}',
        -- Each histogram's percentiles as bins (null: empty), kept by image_stats_rollup_quantiles:
        -- a step of one bucket reads these, not the histograms.
        latency_p50_bin smallint,
        latency_p95_bin smallint,
        decode_p50_bin smallint,
        preprocess_p50_bin smallint,
        inference_p50_bin smallint,
        postprocess_p50_bin smallint,
        PRIMARY KEY (resolution, bucket)
      );

      -- Changes not folded yet: +1 a finished image row written, -1 one changed or deleted (its old values).
      CREATE TABLE image_stats_pending (
        sign smallint NOT NULL CHECK (sign IN (-1, 1)),
        finished_at timestamptz NOT NULL,
        failed boolean NOT NULL,
        cache_hit boolean NOT NULL,
        latency_bin smallint NOT NULL,
        decode_bin smallint,
        preprocess_bin smallint,
        inference_bin smallint,
        postprocess_bin smallint
      );

      -- The histogram bin of a time in ms: 8 bins per doubling, bin 80 starts at 1 ms.
      CREATE FUNCTION image_stats_bin(ms float8) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN ms IS NULL OR ms = 'NaN' THEN NULL
                    ELSE least(327, greatest(0, floor(8 * ln(greatest(ms, 0.0009765625)) / ln(2)) + 80))::smallint END
      $$;

      -- Two histograms added bin by bin; bins that come to 0 are dropped.
      CREATE FUNCTION image_stats_hist_add(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN b = '{}' THEN a WHEN a = '{}' THEN b ELSE (
          SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM (
            SELECT k, sum(v::int) AS n FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) AS e (k, v)
             GROUP BY k HAVING sum(v::int) <> 0
          ) AS summed) END
      $$;

      -- The bin of a histogram's q-quantile by nearest rank: the first whose running count reaches ⌈q·n⌉ (null when empty).
      CREATE FUNCTION image_stats_quantile_bin(h jsonb, q float8) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT bin FROM (
          SELECT k::smallint AS bin, sum(v::bigint) OVER (ORDER BY k::int) AS running, sum(v::bigint) OVER () AS total
            FROM jsonb_each_text(h) AS e (k, v) WHERE v::bigint > 0
        ) AS c WHERE running >= greatest(1, ceil(q * total)) ORDER BY bin LIMIT 1
      $$;
      CREATE FUNCTION image_stats_rollup_quantiles() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.latency_p50_bin := image_stats_quantile_bin(NEW.latency_ms, 0.5);
        NEW.latency_p95_bin := image_stats_quantile_bin(NEW.latency_ms, 0.95);
        NEW.decode_p50_bin := image_stats_quantile_bin(NEW.decode_ms, 0.5);
        NEW.preprocess_p50_bin := image_stats_quantile_bin(NEW.preprocess_ms, 0.5);
        NEW.inference_p50_bin := image_stats_quantile_bin(NEW.inference_ms, 0.5);
        NEW.postprocess_p50_bin := image_stats_quantile_bin(NEW.postprocess_ms, 0.5);
        RETURN NEW;
      END;
      $$;
      CREATE TRIGGER image_stats_rollup_quantiles BEFORE INSERT OR UPDATE ON image_stats_rollup
        FOR EACH ROW EXECUTE FUNCTION image_stats_rollup_quantiles();

      -- Inserts and deletes (submits, prunes, a batch's cascade) may be many rows: once per statement.
      CREATE FUNCTION image_stats_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO image_stats_pending (${PENDING_COLUMNS}) SELECT ${pendingLine(1, 'r')} FROM new_rows r WHERE ${finished('r')};
        RETURN NULL;
      END;
      $$;
      CREATE FUNCTION image_stats_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO image_stats_pending (${PENDING_COLUMNS}) SELECT ${pendingLine(-1, 'r')} FROM old_rows r WHERE ${finished('r')};
        RETURN NULL;
      END;
      $$;
      -- Updates are one image at a time (claims, results): per row, and only
      -- for a row that is or was finished and whose counted values changed
      -- (the trigger's WHEN), so a claim costs nothing.
      CREATE FUNCTION image_stats_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF ${finished('OLD')} THEN
          INSERT INTO image_stats_pending (${PENDING_COLUMNS}) VALUES (${pendingLine(-1, 'OLD')});
        END IF;
        IF ${finished('NEW')} THEN
          INSERT INTO image_stats_pending (${PENDING_COLUMNS}) VALUES (${pendingLine(1, 'NEW')});
        END IF;
        RETURN NULL;
      END;
      $$;

      CREATE TRIGGER image_stats_insert AFTER INSERT ON images
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION image_stats_on_insert();
      CREATE TRIGGER image_stats_delete AFTER DELETE ON images
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION image_stats_on_delete();
      CREATE TRIGGER image_stats_update AFTER UPDATE ON images FOR EACH ROW
        WHEN ((OLD.status IN ('done', 'failed') OR NEW.status IN ('done', 'failed'))
              AND (OLD.status, OLD.finished_at, OLD.created_at, OLD.cache_hit, OLD.timings)
                  IS DISTINCT FROM (NEW.status, NEW.finished_at, NEW.created_at, NEW.cache_hit, NEW.timings))
        EXECUTE FUNCTION image_stats_on_update();

      -- Moves every pending line into the rollup; returns how many it moved.
      CREATE FUNCTION image_stats_fold() RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        moved bigint;
      BEGIN
        -- One at a time; the next statement's snapshot is taken after the lock, so it sees the last fold's result.
        PERFORM pg_advisory_xact_lock(${FOLD_LOCK});
        WITH taken AS (DELETE FROM image_stats_pending RETURNING ${PENDING_COLUMNS}), ${summedCtes('taken')},
             added AS (${addToRollup()} RETURNING 1)
        SELECT count(*) INTO moved FROM taken;
        RETURN moved;
      END;
      $$;

      WITH lines (${PENDING_COLUMNS}) AS (SELECT ${pendingLine(1, 'i')} FROM images i WHERE ${finished('i')}), ${summedCtes('lines')}
      ${addToRollup()};

      ALTER TABLE health_checks ADD COLUMN detect_waiting bigint GENERATED ALWAYS AS (
        (jsonb_path_query_first(components, '$[*] ? (@.name == "queue.detect.backlog" && @.value.type() == "number").value') #>> '{}')::numeric::bigint
      ) STORED;
    `);
  },
  async down(db) {
    await db.query(`
      ALTER TABLE health_checks DROP COLUMN detect_waiting;
      DROP TRIGGER image_stats_update ON images;
      DROP TRIGGER image_stats_delete ON images;
      DROP TRIGGER image_stats_insert ON images;
      DROP FUNCTION image_stats_fold();
      DROP FUNCTION image_stats_on_update();
      DROP FUNCTION image_stats_on_delete();
      DROP FUNCTION image_stats_on_insert();
      DROP TABLE image_stats_pending;
      DROP TABLE image_stats_rollup;
      DROP FUNCTION image_stats_rollup_quantiles();
      DROP FUNCTION image_stats_quantile_bin(jsonb, float8);
      DROP FUNCTION image_stats_hist_add(jsonb, jsonb);
      DROP FUNCTION image_stats_bin(float8);
    `);
  },
};
