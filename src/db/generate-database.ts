// Fills a Lookout database with synthetic but realistically shaped rows
// (batches, images, detections with keypoints, audit entries) until it holds
// at least `targetBytes`. Used by the backup benchmark; all in SQL, so the
// data never crosses into Node.
import type { Pool } from './pool.js';

const CHUNK_IMAGES = 50_000;

export async function generateDatabase(pool: Pool, targetBytes: number, onProgress?: (bytes: number) => void): Promise<number> {
  const size = async () => Number((await pool.query<{ s: string }>('SELECT pg_database_size(current_database())::text AS s')).rows[0]!.s);
  let bytes = await size();
  for (let chunk = 0; bytes < targetBytes; chunk++) {
    await pool.query(`
      WITH b AS (
        INSERT INTO batches (id, status, model, min_score, total, created_by, created_at, started_at, finished_at)
        SELECT gen_random_uuid(), 'completed', 'blazeface-back', 0.75, 100, 'key:bench0001', now(), now(), now()
          FROM generate_series(1, ${CHUNK_IMAGES / 100})
        RETURNING id
      ), numbered AS (SELECT id, row_number() OVER () AS n FROM b),
      i AS (
        INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, status,
                            width, height, model_version, model_sha256, worker_id, timings, finished_at)
        SELECT gen_random_uuid(), numbered.id, p, 'photo-' || ${chunk} || '-' || numbered.n || '-' || p || '.jpg', s, 400000 + p, s,
               'blazeface-back', 0.75, 'done', 1920, 1080, '1.2.0',
               '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2', 'bench:1',
               jsonb_build_object('preprocessMs', random() * 20, 'inferenceMs', random() * 5, 'postprocessMs', random()), now()
          FROM numbered, generate_series(0, 99) AS p,
               LATERAL (SELECT encode(sha256((numbered.id::text || p)::bytea), 'hex') AS s) h
        RETURNING id
      )
      INSERT INTO detections (image_id, rank, label, score, x1, y1, x2, y2, keypoints)
      SELECT i.id, 0, 'face', 0.75 + random() * 0.25, 100 + random() * 800, 100 + random() * 400, 900 + random() * 800, 500 + random() * 400,
             jsonb_build_array(jsonb_build_array(random() * 1920, random() * 1080), jsonb_build_array(random() * 1920, random() * 1080),
                               jsonb_build_array(random() * 1920, random() * 1080), jsonb_build_array(random() * 1920, random() * 1080),
                               jsonb_build_array(random() * 1920, random() * 1080), jsonb_build_array(random() * 1920, random() * 1080))
        FROM i`);
    await pool.query(`INSERT INTO audit_log (actor, action, target, details)
      SELECT 'key:bench0001', 'batch.submit', gen_random_uuid()::text, jsonb_build_object('images', 100) FROM generate_series(1, ${CHUNK_IMAGES / 100})`);
    bytes = await size();
    onProgress?.(bytes);
  }
  return bytes;
}
