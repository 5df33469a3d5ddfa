// Retention's statements (src/retention/prune.ts runs them): which finished
// batches are old enough to go, counting them, and deleting them a chunk at a
// time with their images and detections; and deleting one finished batch by
// hand (src/retention/delete-batch.ts, DELETE /v1/batches/:id). Which blobs may go after them is
// blob-references.ts's question, asked under its lock.
import { TERMINAL_BATCH_STATUSES, type BatchStatus } from '../../wire/batch-status.js';
import type { Queryable } from '../pool.js';

/**
 * The one place that says which image rows' blobs are Lookout's own (uploaded
 * into its blob store) and so may be deleted with them: a blob key that is a
 * content address of the store (64 hex digits). Images submitted by reference
 * (migration 0010) have no blob key, only `source_url`: their objects are the
 * user's and are never deleted (NULL ~ pattern is NULL, which every caller
 * treats as not own).
 */
const ownBlob = (i: string): string => `(${i}.blob_key IS NOT NULL AND ${i}.blob_key ~ '^[0-9a-f]{64}$')`;

/**
 * A batch retention may delete: final status, finished at or before $1, and
 * no image still queued or running (the final status says so already; this
 * keeps a batch an operator or the reconciler reopened).
 */
const PRUNABLE = `b.status = ANY($2::text[]) AND b.finished_at <= $1
  AND NOT EXISTS (SELECT 1 FROM images u WHERE u.batch_id = b.id AND u.status IN ('queued', 'running'))`;

export interface PrunableCounts {
  batches: number;
  images: number;
  /** Own blobs that no image outside these batches uses: what deleting them frees. */
  blobs: number;
  bytes: number;
}

/**
 * What deleting every prunable batch finished at or before `cutoff` would
 * remove, in one statement: the batches, their images, and the distinct own
 * blobs (by key, the sha256) that no other image references, with their
 * bytes (an image's `bytes` is its blob's size).
 */
export async function countPrunable(db: Queryable, cutoff: Date): Promise<PrunableCounts> {
  const { rows } = await db.query<{ batches: string; images: string; blobs: string; bytes: string }>(
    `WITH doomed AS (SELECT b.id FROM batches b WHERE ${PRUNABLE}),
          gone AS (SELECT i.blob_key, i.bytes, ${ownBlob('i')} AS own FROM images i WHERE i.batch_id IN (SELECT id FROM doomed)),
          freed AS (
            SELECT g.blob_key, max(g.bytes) AS bytes FROM gone g
             WHERE g.own
               AND NOT EXISTS (SELECT 1 FROM images k WHERE k.blob_key = g.blob_key AND k.batch_id NOT IN (SELECT id FROM doomed))
             GROUP BY g.blob_key)
     SELECT (SELECT count(*) FROM doomed) AS batches, (SELECT count(*) FROM gone) AS images,
            (SELECT count(*) FROM freed) AS blobs, (SELECT coalesce(sum(bytes), 0) FROM freed) AS bytes`,
    [cutoff, TERMINAL_BATCH_STATUSES],
  );
  const r = rows[0]!;
  return { batches: Number(r.batches), images: Number(r.images), blobs: Number(r.blobs), bytes: Number(r.bytes) };
}

/** How many batches a prune finished at or before `cutoff` would delete: its progress total, without countPrunable's blob arithmetic. */
export async function countPrunableBatches(db: Queryable, cutoff: Date): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM batches b WHERE ${PRUNABLE}`, [cutoff, TERMINAL_BATCH_STATUSES]);
  return Number(rows[0]!.n);
}

/**
 * Up to `limit` prunable batches finished at or before `cutoff`, oldest
 * finish first, with their image counts (`total`), for a chunk to be cut from.
 */
export async function prunableBatches(db: Queryable, cutoff: Date, limit: number): Promise<Array<{ id: string; total: number }>> {
  const { rows } = await db.query<{ id: string; total: number }>(
    `SELECT b.id, b.total FROM batches b WHERE ${PRUNABLE} ORDER BY b.finished_at, b.id LIMIT $3`,
    [cutoff, TERMINAL_BATCH_STATUSES, limit],
  );
  return rows;
}

export interface DeletedChunk {
  batches: number;
  images: number;
  /** The own blob keys the deleted images used, each once, with its size: candidates for removal, if nothing else uses them. */
  blobs: Array<{ key: string; bytes: number }>;
}

/**
 * In the caller's transaction: locks those of `ids` that are still prunable
 * (finished at or before `cutoff`; a batch another prune holds is skipped,
 * not waited for), then deletes their images (detections go by ON DELETE
 * CASCADE) and the batches themselves.
 */
export async function deletePrunableBatches(db: Queryable, ids: readonly string[], cutoff: Date): Promise<DeletedChunk> {
  const locked = await db.query<{ id: string }>(`SELECT b.id FROM batches b WHERE b.id = ANY($3::uuid[]) AND ${PRUNABLE} FOR UPDATE SKIP LOCKED`, [
    cutoff,
    TERMINAL_BATCH_STATUSES,
    ids,
  ]);
  const doomed = locked.rows.map((r) => r.id);
  if (doomed.length === 0) return { batches: 0, images: 0, blobs: [] };
  // One row per distinct key, not per image: a chunk's images may be many.
  const { rows } = await db.query<{ key: string; bytes: string; images: string; own: boolean }>(
    `WITH gone AS (DELETE FROM images i WHERE i.batch_id = ANY($1::uuid[]) RETURNING i.blob_key, i.bytes, ${ownBlob('i')} AS own)
     SELECT blob_key AS key, max(bytes) AS bytes, count(*) AS images, bool_or(own) AS own FROM gone GROUP BY blob_key`,
    [doomed],
  );
  await db.query('DELETE FROM batches WHERE id = ANY($1::uuid[])', [doomed]);
  return {
    batches: doomed.length,
    images: rows.reduce((n, r) => n + Number(r.images), 0),
    blobs: rows.filter((r) => r.own).map((r) => ({ key: r.key, bytes: Number(r.bytes) })),
  };
}

/** deleteFinishedBatch's answer: the batch gone, with its own blob keys to remove if nothing else uses them; or why not. */
export type DeletedBatch =
  | { deleted: true; images: number; detections: number; blobs: Array<{ key: string; bytes: number }> }
  | { deleted: false; status: BatchStatus; unfinishedImages: number };

/**
 * In the caller's transaction: locks batch `id` (waiting for a retry or
 * another delete holding it) and, when it is finished (final status, no
 * image queued or running), deletes its images (detections go by ON DELETE
 * CASCADE) and the batch. Returns undefined when there is no such batch.
 */
export async function deleteFinishedBatch(db: Queryable, id: string): Promise<DeletedBatch | undefined> {
  const locked = await db.query<{ status: BatchStatus; unfinished: number }>(
    `SELECT b.status, (SELECT count(*)::int FROM images u WHERE u.batch_id = b.id AND u.status IN ('queued', 'running')) AS unfinished
       FROM batches b WHERE b.id = $1 FOR UPDATE`,
    [id],
  );
  const batch = locked.rows[0];
  if (!batch) return undefined;
  if (!(TERMINAL_BATCH_STATUSES as readonly string[]).includes(batch.status) || batch.unfinished > 0) {
    return { deleted: false, status: batch.status, unfinishedImages: batch.unfinished };
  }
  const { rows } = await db.query<{ key: string | null; bytes: string; images: string; detections: string; own: boolean }>(
    `WITH gone AS (
       DELETE FROM images i WHERE i.batch_id = $1
       RETURNING i.blob_key, i.bytes, ${ownBlob('i')} AS own, (SELECT count(*) FROM detections d WHERE d.image_id = i.id) AS detections)
     SELECT blob_key AS key, max(bytes) AS bytes, count(*) AS images, sum(detections) AS detections, bool_or(own) AS own FROM gone GROUP BY blob_key`,
    [id],
  );
  await db.query('DELETE FROM batches WHERE id = $1', [id]);
  return {
    deleted: true,
    images: rows.reduce((n, r) => n + Number(r.images), 0),
    detections: rows.reduce((n, r) => n + Number(r.detections), 0),
    blobs: rows.filter((r) => r.own && r.key !== null).map((r) => ({ key: r.key!, bytes: Number(r.bytes) })),
  };
}
