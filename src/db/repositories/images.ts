// Images of a batch and their detections.
import type { Detection, DetectionResult } from '../../detection/index.js';
import type { ImageStatus } from '../../wire/batch-status.js';
import type { Lane } from '../../wire/batches.js';
import type { Queryable } from '../pool.js';

export type { ImageStatus };

export interface NewImage {
  id: string;
  position: number;
  filename: string;
  /** Uploaded: the sha256 of its bytes; by reference: null until a worker has read them. */
  sha256: string | null;
  bytes: number;
  /** Uploaded: its blob's key; by reference: null. */
  blobKey: string | null;
  /** By reference: its s3://BUCKET/KEY; uploaded: absent. */
  sourceUrl?: string | null;
}

export interface ImageRecord {
  id: string;
  batchId: string;
  filename: string;
  /** null for an image by reference that no worker has read yet. */
  sha256: string | null;
  bytes: number;
  /** null for an image by reference (sourceUrl). */
  blobKey: string | null;
  sourceUrl: string | null;
  model: string;
  minScore: number;
  status: ImageStatus;
  errorCode: string | null;
  errorMessage: string | null;
  width: number | null;
  height: number | null;
  cacheHit: boolean;
  /** Of the model that answered; null until done. */
  modelVersion: string | null;
  modelSha256: string | null;
}

export interface ImageWithDetections extends ImageRecord {
  detections: Detection[];
}

const IMAGE_COLUMNS = `i.id, i.batch_id AS "batchId", i.filename, i.sha256, i.bytes::int AS bytes, i.blob_key AS "blobKey", i.source_url AS "sourceUrl",
  i.model, i.min_score AS "minScore", i.status, i.error_code AS "errorCode", i.error_message AS "errorMessage",
  i.width, i.height, i.cache_hit AS "cacheHit", i.model_version AS "modelVersion", i.model_sha256 AS "modelSha256"`;

// Detections as the CLI prints them, built in SQL, in rank order.
const DETECTIONS_JSON = `coalesce((
  SELECT json_agg(json_strip_nulls(json_build_object(
           'label', d.label, 'score', d.score,
           'box', json_build_object('x1', d.x1, 'y1', d.y1, 'x2', d.x2, 'y2', d.y2),
           'keypoints', d.keypoints)) ORDER BY d.rank)
    FROM detections d WHERE d.image_id = i.id), '[]'::json) AS detections`;

export async function insertImages(db: Queryable, batchId: string, model: string, minScore: number, images: readonly NewImage[]): Promise<void> {
  const values: unknown[] = [];
  const tuples = images.map((img, n) => {
    values.push(img.id, batchId, img.position, img.filename, img.sha256, img.bytes, img.blobKey, model, minScore, img.sourceUrl ?? null);
    const b = n * 10;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}, $${b + 10})`;
  });
  await db.query(
    `INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, source_url) VALUES ${tuples.join(', ')}`,
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
  const { rows } = await db.query<ImageWithDetections>(`SELECT ${IMAGE_COLUMNS}, ${DETECTIONS_JSON} FROM images i WHERE i.batch_id = $1 ORDER BY i.position`, [
    batchId,
  ]);
  return rows;
}

/** An earlier finished image with the same bytes, model and threshold. */
export interface EarlierAnswer {
  id: string;
  width: number;
  height: number;
  modelVersion: string;
  modelSha256: string;
}

export interface ClaimedImage {
  id: string;
  batchId: string;
  /** null: an image by reference not read yet (no earlier answer can be looked up before). */
  sha256: string | null;
  model: string;
  minScore: number;
  blobKey: string | null;
  sourceUrl: string | null;
  earlier: EarlierAnswer | undefined;
}

/**
 * Starts work on an image in one round trip: marks it running (and its batch,
 * if still queued), and finds an earlier answer for the same bytes, model and
 * threshold. Undefined when the image is missing or already finished.
 */
export async function claimImage(db: Queryable, id: string): Promise<ClaimedImage | undefined> {
  const { rows } = await db.query<
    Omit<ClaimedImage, 'earlier'> & Partial<Record<'earlierId' | 'modelVersion' | 'modelSha256', string>> & { width: number; height: number }
  >(
    `WITH claimed AS (
       UPDATE images SET status = 'running', attempts = attempts + 1
        WHERE id = $1 AND status IN ('queued', 'running')
       RETURNING id, batch_id, sha256, model, min_score, blob_key, source_url
     ), started AS (
       UPDATE batches SET status = 'running', started_at = now()
        WHERE id = (SELECT batch_id FROM claimed) AND status = 'queued'
     )
     SELECT c.id, c.batch_id AS "batchId", c.sha256, c.model, c.min_score AS "minScore", c.blob_key AS "blobKey", c.source_url AS "sourceUrl",
            e.id AS "earlierId", e.width, e.height, e.model_version AS "modelVersion", e.model_sha256 AS "modelSha256"
       FROM claimed c
       LEFT JOIN LATERAL (
         SELECT id, width, height, model_version, model_sha256 FROM images e
          WHERE e.sha256 = c.sha256 AND e.model = c.model AND e.min_score = c.min_score AND e.status = 'done' AND e.id <> c.id
          ORDER BY e.finished_at DESC LIMIT 1
       ) e ON true`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  const earlier =
    r.earlierId && r.modelVersion && r.modelSha256
      ? { id: r.earlierId, width: r.width, height: r.height, modelVersion: r.modelVersion, modelSha256: r.modelSha256 }
      : undefined;
  return { id: r.id, batchId: r.batchId, sha256: r.sha256, model: r.model, minScore: r.minScore, blobKey: r.blobKey, sourceUrl: r.sourceUrl, earlier };
}

/**
 * An image by reference, once its bytes are read: records their sha256 and
 * size, and finds an earlier answer for the same bytes, model and threshold
 * (as claimImage does for an upload), in one round trip.
 */
export async function recordReadBytes(db: Queryable, id: string, sha256: string, bytes: number): Promise<EarlierAnswer | undefined> {
  const { rows } = await db.query<{ id: string; width: number; height: number; modelVersion: string | null; modelSha256: string | null }>(
    `WITH recorded AS (
       UPDATE images SET sha256 = $2, bytes = $3 WHERE id = $1 RETURNING id, sha256, model, min_score
     )
     SELECT e.id, e.width, e.height, e.model_version AS "modelVersion", e.model_sha256 AS "modelSha256"
       FROM recorded c
       JOIN LATERAL (
         SELECT id, width, height, model_version, model_sha256 FROM images e
          WHERE e.sha256 = c.sha256 AND e.model = c.model AND e.min_score = c.min_score AND e.status = 'done' AND e.id <> c.id
          ORDER BY e.finished_at DESC LIMIT 1
       ) e ON true`,
    [id, sha256, bytes],
  );
  const r = rows[0];
  return r && r.modelVersion && r.modelSha256
    ? { id: r.id, width: r.width, height: r.height, modelVersion: r.modelVersion, modelSha256: r.modelSha256 }
    : undefined;
}

/**
 * Stores a result in one statement (atomic without a transaction): the image's
 * old detections are deleted and the new ones inserted with one multi-row
 * INSERT, so a retried job replaces its own rows, never duplicates them.
 */
export async function saveImageResult(db: Queryable, imageId: string, result: DetectionResult, workerId: string): Promise<void> {
  const detections = result.detections.map((d, rank) => ({
    rank,
    label: d.label,
    score: d.score,
    ...d.box,
    keypoints: d.keypoints ?? null,
  }));
  await db.query(
    `WITH gone AS (DELETE FROM detections WHERE image_id = $1),
          added AS (
            INSERT INTO detections (image_id, rank, label, score, x1, y1, x2, y2, keypoints)
            SELECT $1, r.rank, r.label, r.score, r.x1, r.y1, r.x2, r.y2, r.keypoints
              FROM jsonb_to_recordset($2::jsonb) AS r(rank smallint, label text, score real, x1 real, y1 real, x2 real, y2 real, keypoints jsonb)
          )
     UPDATE images SET status = 'done', width = $3, height = $4, model_version = $5, model_sha256 = $6,
            timings = $7, cache_hit = false, error_code = NULL, error_message = NULL, finished_at = now(), worker_id = $8
      WHERE id = $1`,
    [imageId, JSON.stringify(detections), result.width, result.height, result.model.version, result.model.sha256, JSON.stringify(result.timings), workerId],
  );
}

/**
 * Answers an image from an earlier one's stored detections, in one statement:
 * the number of detections copied, or undefined when the earlier image is no
 * longer there (retention deleted it since the claim found it), and then
 * nothing is written. One statement reads one snapshot, so the earlier
 * image's row and its detections are seen together or not at all: never an
 * answer of zero boxes copied from a half-deleted image.
 */
export async function copyCachedResult(db: Queryable, imageId: string, source: EarlierAnswer, workerId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ copied: number; answered: boolean }>(
    `WITH src AS (SELECT id FROM images WHERE id = $2 AND status = 'done'),
          gone AS (DELETE FROM detections WHERE image_id = $1 AND EXISTS (SELECT 1 FROM src)),
          added AS (
            INSERT INTO detections (image_id, rank, label, score, x1, y1, x2, y2, keypoints)
            SELECT $1, rank, label, score, x1, y1, x2, y2, keypoints FROM detections WHERE image_id = (SELECT id FROM src)
            RETURNING 1
          ),
          done AS (
            UPDATE images SET status = 'done', width = $3, height = $4, model_version = $5, model_sha256 = $6,
                   cache_hit = true, error_code = NULL, error_message = NULL, finished_at = now(), worker_id = $7
             WHERE id = $1 AND EXISTS (SELECT 1 FROM src)
            RETURNING 1
          )
     SELECT (SELECT count(*) FROM added)::int AS copied, EXISTS (SELECT 1 FROM done) AS answered`,
    [imageId, source.id, source.width, source.height, source.modelVersion, source.modelSha256, workerId],
  );
  return rows[0]?.answered ? rows[0].copied : undefined;
}

export async function failImage(db: Queryable, imageId: string, error: { code: string; message: string }, workerId: string): Promise<void> {
  await db.query(`UPDATE images SET status = 'failed', error_code = $2, error_message = $3, finished_at = now(), worker_id = $4 WHERE id = $1`, [
    imageId,
    error.code,
    error.message,
    workerId,
  ]);
}

/** An image not finished yet, with what its detect-image job needs (the reconciler's view). */
export interface UnfinishedImage {
  id: string;
  batchId: string;
  blobKey: string | null;
  sourceUrl: string | null;
  model: string;
}

/** Images queued or running, oldest first, at most `limit`. */
export async function unfinishedImages(db: Queryable, limit: number): Promise<UnfinishedImage[]> {
  const { rows } = await db.query<{ id: string; batch_id: string; blob_key: string | null; source_url: string | null; model: string }>(
    `SELECT id, batch_id, blob_key, source_url, model FROM images WHERE status IN ('queued', 'running') ORDER BY created_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, batchId: r.batch_id, blobKey: r.blob_key, sourceUrl: r.source_url, model: r.model }));
}

/**
 * The ids of a batch's first `limit` queued images, in its order: the images
 * whose jobs wait (their priorities ascend with the position, so the first
 * few hold the batch's next one).
 */
export async function queuedImageIds(db: Queryable, batchId: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM images WHERE batch_id = $1 AND status = 'queued' ORDER BY position LIMIT $2`, [
    batchId,
    limit,
  ]);
  return rows.map((r) => r.id);
}

/**
 * Queued images per API key (the batch's key, or its creator for batches from
 * before keys were kept), the `top` keys with the most first, and the rest
 * summed as `other` (absent when none). Reads the unfinished batches' images
 * only (by images_batch), not the whole images table.
 */
export async function queuedImagesByKey(db: Queryable, top: number): Promise<Array<{ key: string; images: number }>> {
  const { rows } = await db.query<{ key: string; images: number }>(
    `SELECT coalesce(b.key_id::text, b.created_by) AS key, count(*)::int AS images
       FROM batches b JOIN images i ON i.batch_id = b.id
      WHERE b.status IN ('queued', 'running') AND i.status = 'queued'
      GROUP BY 1
      ORDER BY 2 DESC, 1`,
  );
  const other = rows.slice(top).reduce((sum, r) => sum + r.images, 0);
  return [...rows.slice(0, top), ...(other > 0 ? [{ key: 'other', images: other }] : [])];
}

/** How the images' jobs are scheduled: their batch's lane and fair-share key (batchScheduling, by image id). */
export async function imageSchedulingOf(db: Queryable, imageIds: readonly string[]): Promise<Map<string, { lane: Lane; fairKey: string }>> {
  if (imageIds.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; lane: Lane; fair_key: string }>(
    `SELECT i.id, b.lane, coalesce(b.key_id, b.created_by) AS fair_key FROM images i JOIN batches b ON b.id = i.batch_id WHERE i.id = ANY($1::uuid[])`,
    [imageIds],
  );
  return new Map(rows.map((r) => [r.id, { lane: r.lane, fairKey: r.fair_key }]));
}

/** Where a batch's images' bytes are, in its order: what a re-run submits again (no bytes read). */
export async function batchImageSources(
  db: Queryable,
  batchId: string,
): Promise<Array<{ filename: string; sha256: string | null; bytes: number; blobKey: string | null; sourceUrl: string | null }>> {
  const { rows } = await db.query<{ filename: string; sha256: string | null; bytes: number; blobKey: string | null; sourceUrl: string | null }>(
    `SELECT filename, sha256, bytes::int AS bytes, blob_key AS "blobKey", source_url AS "sourceUrl" FROM images WHERE batch_id = $1 ORDER BY position`,
    [batchId],
  );
  return rows;
}
