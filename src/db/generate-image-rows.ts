// Synthetic image rows for the image-list benchmark (src/bench/image-list-bench.ts):
// batches of 50 images spread evenly over the last `days`, shaped like a
// fleet's: 4 % failed (corrupt_image, unsupported_format, blob_missing), the
// newest 0.05 % still queued, 80 % blazeface-back, 15 % blazeface-front, 5 %
// yolov8n, file names from a few camera and scanner patterns (so a substring
// such as "cat" is common and a number is rare). All in SQL, a chunk per
// statement, so the rows never cross into Node.
import type { Pool } from './pool.js';

const PER_BATCH = 50;
const CHUNK_BATCHES = 2_000;

/**
 * Inserts `images` image rows (rounded up to whole batches of 50) and their
 * batches, listed over the `days` before now; `onProgress` hears the rows so
 * far after each chunk of 100,000. Returns the rows inserted.
 */
export async function generateImageRows(pool: Pool, images: number, days: number, onProgress?: (rows: number) => void): Promise<number> {
  const batches = Math.ceil(images / PER_BATCH);
  const stepMs = (days * 86_400_000) / batches;
  for (let first = 0; first < batches; first += CHUNK_BATCHES) {
    const count = Math.min(CHUNK_BATCHES, batches - first);
    await pool.query(
      `WITH b AS (
         INSERT INTO batches (id, status, model, min_score, total, created_by, created_at, finished_at, lane, key_id)
         SELECT gen_random_uuid(), 'completed_with_errors', 'blazeface-back', 0.75, ${PER_BATCH}, 'key:bench' || (k % 7),
                now() - make_interval(days => $3) + (k * $4::float8) * interval '1 millisecond',
                now() - make_interval(days => $3) + (k * $4::float8) * interval '1 millisecond' + interval '30 seconds',
                'bulk', 'bench' || (k % 7)
           FROM generate_series($1::bigint, $1::bigint + $2 - 1) k
         RETURNING id, created_at
       ), numbered AS (SELECT id, created_at, $1::bigint + row_number() OVER (ORDER BY created_at) - 1 AS k FROM b)
       INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, status, error_code, error_message,
                           created_at, finished_at)
       SELECT gen_random_uuid(), numbered.id, p,
              (ARRAY['IMG_', 'DSC', 'holiday cat ', 'scan-', 'photo_'])[1 + n % 5] || lpad((n * 7919 % 10000000)::text, 7, '0')
                || (ARRAY['.jpg', '.png', '.JPG', '.webp'])[1 + n % 4],
              h, 100000 + n % 900000, h,
              CASE WHEN m < 16 THEN 'blazeface-back' WHEN m < 19 THEN 'blazeface-front' ELSE 'yolov8n' END, 0.75,
              CASE WHEN n % 100 < 4 THEN 'failed' WHEN n >= $5 THEN 'queued' ELSE 'done' END,
              CASE WHEN n % 100 < 4 THEN (ARRAY['corrupt_image', 'corrupt_image', 'unsupported_format', 'blob_missing'])[1 + n / 100 % 4] END,
              CASE WHEN n % 100 < 4 THEN 'generated failure' END,
              numbered.created_at,
              CASE WHEN n >= $5 AND n % 100 >= 4 THEN NULL ELSE numbered.created_at + p * interval '400 milliseconds' END
         FROM numbered, generate_series(0, ${PER_BATCH - 1}) AS p,
              LATERAL (SELECT numbered.k * ${PER_BATCH} + p AS n) x,
              -- The model from a hash of n: independent of the failures (n % 100) and the names (n % 5).
              LATERAL (SELECT mod(abs(hashint8(x.n)::bigint), 20) AS m) z,
              LATERAL (SELECT md5(x.n::text) || md5((x.n + 1)::text) AS h) y`,
      [first, count, days, stepMs, Math.floor(batches * PER_BATCH * 0.9995)],
    );
    onProgress?.((first + count) * PER_BATCH);
  }
  await pool.query('VACUUM ANALYZE batches');
  await pool.query('VACUUM ANALYZE images');
  return batches * PER_BATCH;
}

/**
 * One image's status writes as a worker makes them, over `n` distinct done
 * images among the newest (skipping the `skip` newest: each measurement takes
 * rows of its own): claimed (running), then answered (done, finished now).
 * Returns the mean microseconds per image, commits not waiting for the disk:
 * what every index on the columns they change costs the pipeline.
 */
export async function timeStatusWrites(pool: Pool, n: number, skip: number): Promise<number> {
  const client = await pool.connect();
  try {
    // Without waiting for each commit's flush to disk: what is left is the writes themselves, indexes included.
    await client.query('SET synchronous_commit = off');
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM images WHERE status = 'done' ORDER BY created_at DESC, id LIMIT $1 OFFSET $2`, [
      n,
      skip,
    ]);
    const started = performance.now();
    for (const { id } of rows) {
      await client.query(`UPDATE images SET status = 'running', attempts = attempts + 1 WHERE id = $1`, [id]);
      await client.query(`UPDATE images SET status = 'done', finished_at = now(), error_code = NULL, error_message = NULL WHERE id = $1`, [id]);
    }
    return ((performance.now() - started) * 1000) / Math.max(1, rows.length);
  } finally {
    await client.query('RESET synchronous_commit').catch(() => undefined);
    client.release();
  }
}

/** The images table's size with its indexes (MiB), and whether migration 0012 made its trigram index. */
export async function imagesTableFacts(pool: Pool): Promise<{ mb: number; trigramIndex: boolean }> {
  const { rows } = await pool.query<{ mb: string; trgm: boolean }>(
    `SELECT (pg_total_relation_size('images') / 1048576)::text AS mb, EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'images_filename_trgm') AS trgm`,
  );
  return { mb: Number(rows[0]!.mb), trigramIndex: rows[0]!.trgm };
}
