// Images of a batch and their detections. A result is written in one
// transaction: the image's old detections are deleted and the new ones
// inserted with one multi-row INSERT, so a retried job replaces its own rows.
import type { Detection, DetectionResult } from '../../detection/index.js';
import type { Queryable } from '../pool.js';

export type ImageStatus = 'queued' | 'running' | 'done' | 'failed';

export interface NewImage {
  id: string;
  position: number;
  filename: string;
  sha256: string;
  bytes: number;
  blobKey: string;
}

export interface ImageRecord {
  id: string;
  batchId: string;
  filename: string;
  sha256: string;
  bytes: number;
  blobKey: string;
  model: string;
  minScore: number;
  status: ImageStatus;
  errorCode: string | null;
  errorMessage: string | null;
  width: number | null;
  height: number | null;
  cacheHit: boolean;
}

export interface ImageWithDetections extends ImageRecord {
  detections: Detection[];
}

const IMAGE_COLUMNS = `i.id, i.batch_id AS "batchId", i.filename, i.sha256, i.bytes::int AS bytes, i.blob_key AS "blobKey",
  i.model, i.min_score AS "minScore", i.status, i.error_code AS "errorCode", i.error_message AS "errorMessage",
  i.width, i.height, i.cache_hit AS "cacheHit"`;

// Detections as the CLI prints them, built in SQL, in rank order.
const DETECTIONS_JSON = `coalesce((
  SELECT json_agg(json_strip_nulls(json_build_object(
           'label', d.label, 'score', d.score,
           'box', json_build_object('x1', d.x1, 'y1', d.y1, 'x2', d.x2, 'y2', d.y2),
           'keypoints', d.keypoints)) ORDER BY d.rank)
    FROM detections d WHERE d.image_id = i.id), '[]'::json) AS detections`;

export async function insertImages(
  db: Queryable,
  batchId: string,
  model: string,
  minScore: number,
  images: readonly NewImage[],
): Promise<void> {
  const values: unknown[] = [];
  const tuples = images.map((img, n) => {
    values.push(img.id, batchId, img.position, img.filename, img.sha256, img.bytes, img.blobKey, model, minScore);
    const b = n * 9;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
  });
  await db.query(
    `INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score) VALUES ${tuples.join(', ')}`,
    values,
  );
}

export async function getImage(db: Queryable, id: string): Promise<ImageRecord | undefined> {
  const { rows } = await db.query<ImageRecord>(`SELECT ${IMAGE_COLUMNS} FROM images i WHERE i.id = $1`, [id]);
  return rows[0];
}

export async function getImageWithDetections(db: Queryable, id: string): Promise<ImageWithDetections | undefined> {
  const { rows } = await db.query<ImageWithDetections>(`SELECT ${IMAGE_COLUMNS}, ${DETECTIONS_JSON} FROM images i WHERE i.id = $1`, [id]);
  return rows[0];
}

export async function listBatchImages(db: Queryable, batchId: string): Promise<ImageWithDetections[]> {
  const { rows } = await db.query<ImageWithDetections>(
    `SELECT ${IMAGE_COLUMNS}, ${DETECTIONS_JSON} FROM images i WHERE i.batch_id = $1 ORDER BY i.position`,
    [batchId],
  );
  return rows;
}

/** Marks the image as being worked on; false when it is already finished (nothing to do). */
export async function startImage(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE images SET status = 'running', attempts = attempts + 1 WHERE id = $1 AND status IN ('queued', 'running')`,
    [id],
  );
  return rowCount === 1;
}

/** An earlier finished image with the same bytes, model and threshold. */
export async function findAnsweredImage(
  db: Queryable,
  sha256: string,
  model: string,
  minScore: number,
  excludeId: string,
): Promise<{ id: string; width: number; height: number; modelVersion: string; modelSha256: string } | undefined> {
  const { rows } = await db.query<{ id: string; width: number; height: number; modelVersion: string; modelSha256: string }>(
    `SELECT id, width, height, model_version AS "modelVersion", model_sha256 AS "modelSha256"
       FROM images
      WHERE sha256 = $1 AND model = $2 AND min_score = $3 AND status = 'done' AND id <> $4
      ORDER BY finished_at DESC LIMIT 1`,
    [sha256, model, minScore, excludeId],
  );
  return rows[0];
}

export async function saveImageResult(db: Queryable, imageId: string, result: DetectionResult, workerId: string): Promise<void> {
  await db.query('DELETE FROM detections WHERE image_id = $1', [imageId]);
  if (result.detections.length > 0) {
    const values: unknown[] = [];
    const tuples = result.detections.map((d, rank) => {
      values.push(imageId, rank, d.label, d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.keypoints ? JSON.stringify(d.keypoints) : null);
      const b = rank * 9;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
    });
    await db.query(
      `INSERT INTO detections (image_id, rank, label, score, x1, y1, x2, y2, keypoints) VALUES ${tuples.join(', ')}`,
      values,
    );
  }
  await db.query(
    `UPDATE images SET status = 'done', width = $2, height = $3, model_version = $4, model_sha256 = $5,
            timings = $6, cache_hit = false, error_code = NULL, error_message = NULL, finished_at = now(), worker_id = $7
      WHERE id = $1`,
    [imageId, result.width, result.height, result.model.version, result.model.sha256, JSON.stringify(result.timings), workerId],
  );
}

/** Answers an image from an earlier one's stored detections (same bytes, model and threshold). */
export async function copyCachedResult(
  db: Queryable,
  imageId: string,
  source: { id: string; width: number; height: number; modelVersion: string; modelSha256: string },
  workerId: string,
): Promise<number> {
  await db.query('DELETE FROM detections WHERE image_id = $1', [imageId]);
  const { rowCount } = await db.query(
    `INSERT INTO detections (image_id, rank, label, score, x1, y1, x2, y2, keypoints)
     SELECT $1, rank, label, score, x1, y1, x2, y2, keypoints FROM detections WHERE image_id = $2`,
    [imageId, source.id],
  );
  await db.query(
    `UPDATE images SET status = 'done', width = $2, height = $3, model_version = $4, model_sha256 = $5,
            cache_hit = true, error_code = NULL, error_message = NULL, finished_at = now(), worker_id = $6
      WHERE id = $1`,
    [imageId, source.width, source.height, source.modelVersion, source.modelSha256, workerId],
  );
  return rowCount ?? 0;
}

export async function failImage(
  db: Queryable,
  imageId: string,
  error: { code: string; message: string },
  workerId: string,
): Promise<void> {
  await db.query(
    `UPDATE images SET status = 'failed', error_code = $2, error_message = $3, finished_at = now(), worker_id = $4 WHERE id = $1`,
    [imageId, error.code, error.message, workerId],
  );
}
