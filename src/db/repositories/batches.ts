// Batches and their progress. Progress is counted from the images, never kept
// as a counter that could drift.
import type { Queryable } from '../pool.js';
import type { BatchStatus } from '../../wire/batch-status.js';
import type { Lane } from '../../wire/batches.js';

export type { BatchStatus } from '../../wire/batch-status.js';

export interface BatchView {
  id: string;
  status: BatchStatus;
  model: string;
  minScore: number;
  progress: { total: number; done: number; failed: number };
  createdAt: Date;
  finishedAt: Date | null;
  webhookUrl: string | null;
  lane: Lane;
}

export async function insertBatch(
  db: Queryable,
  batch: { id: string; model: string; minScore: number; total: number; createdBy: string; webhookUrl: string | null; lane: Lane; keyId: string },
): Promise<void> {
  await db.query('INSERT INTO batches (id, model, min_score, total, created_by, webhook_url, lane, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
    batch.id,
    batch.model,
    batch.minScore,
    batch.total,
    batch.createdBy,
    batch.webhookUrl,
    batch.lane,
    batch.keyId,
  ]);
}

/**
 * How many images of `keyId`'s unfinished interactive batches are not
 * finished yet (waiting or running). Takes a transaction-scoped advisory lock
 * on the key first, so two small submits of one key at the same moment count
 * one after the other: call it inside the transaction that inserts the batch.
 */
export async function interactiveImagesInFlight(db: Queryable, keyId: string): Promise<number> {
  await db.query("SELECT pg_advisory_xact_lock(hashtext('lookout:interactive-lane:' || $1))", [keyId]);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM images i JOIN batches b ON b.id = i.batch_id
      WHERE b.key_id = $1 AND b.lane = 'interactive' AND b.status IN ('queued', 'running') AND i.status IN ('queued', 'running')`,
    [keyId],
  );
  return rows[0]!.n;
}

/** How the batches' images are scheduled: their lane and whose fair share they take (the key, or for batches from before keys were kept, the creator). */
export async function batchScheduling(db: Queryable, ids: readonly string[]): Promise<Map<string, { lane: Lane; fairKey: string }>> {
  const { rows } = await db.query<{ id: string; lane: Lane; fair_key: string }>(
    'SELECT id, lane, coalesce(key_id, created_by) AS fair_key FROM batches WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { lane: r.lane, fairKey: r.fair_key }]));
}

/** Deletes a batch and (ON DELETE CASCADE) its images and detections: a submit that never reached the queue. */
export async function deleteBatch(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM batches WHERE id = $1', [id]);
}

export async function getBatch(db: Queryable, id: string): Promise<BatchView | undefined> {
  const { rows } = await db.query<{
    id: string;
    status: BatchStatus;
    model: string;
    min_score: number;
    total: number;
    done: number;
    failed: number;
    created_at: Date;
    finished_at: Date | null;
    webhook_url: string | null;
    lane: Lane;
  }>(
    `SELECT b.id, b.status, b.model, b.min_score, b.total, b.created_at, b.finished_at, b.webhook_url, b.lane,
            count(*) FILTER (WHERE i.status = 'done')::int AS done,
            count(*) FILTER (WHERE i.status = 'failed')::int AS failed
       FROM batches b LEFT JOIN images i ON i.batch_id = b.id
      WHERE b.id = $1
      GROUP BY b.id`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    status: r.status,
    model: r.model,
    minScore: r.min_score,
    progress: { total: r.total, done: r.done, failed: r.failed },
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    webhookUrl: r.webhook_url,
    lane: r.lane,
  };
}

/**
 * Closes a batch: images still unfinished (their job failed without a record,
 * e.g. Postgres was down on the last attempt) are marked failed, then the
 * status follows from the counts. Idempotent.
 */
export async function finalizeBatch(db: Queryable, id: string): Promise<BatchView | undefined> {
  await db.query(
    `UPDATE images SET status = 'failed', finished_at = now(),
            error_code = coalesce(error_code, 'detection_failed'),
            error_message = coalesce(error_message, 'the detection job failed without recording a result')
      WHERE batch_id = $1 AND status IN ('queued', 'running')`,
    [id],
  );
  await db.query(
    `UPDATE batches b SET
        status = CASE WHEN c.failed = 0 THEN 'completed'
                      WHEN c.failed = b.total THEN 'failed'
                      ELSE 'completed_with_errors' END,
        finished_at = coalesce(b.finished_at, now()),
        started_at = coalesce(b.started_at, now())
       FROM (SELECT count(*) FILTER (WHERE status = 'failed') AS failed FROM images WHERE batch_id = $1) c
      WHERE b.id = $1`,
    [id],
  );
  return getBatch(db, id);
}

export interface BatchSummary {
  id: string;
  status: BatchStatus;
  model: string;
  createdBy: string;
  /** The submitting API key's name; null for a batch not submitted with a key, or whose key was deleted since. */
  createdByName: string | null;
  progress: { total: number; done: number; failed: number };
  /** Detections of its images so far. */
  detections: number;
  createdAt: Date;
  finishedAt: Date | null;
  lane: Lane;
}

/**
 * Newest first; `before` pages on created_at (the batches_created_at index).
 * Counts per batch of the page only: its images (images_batch) and their
 * detections (the detections' (image_id, rank) key).
 */
export async function listBatches(db: Queryable, options: { limit: number; before?: Date; createdBy?: string; status?: BatchStatus }): Promise<BatchSummary[]> {
  const { rows } = await db.query<{
    id: string;
    status: BatchStatus;
    model: string;
    created_by: string;
    created_by_name: string | null;
    total: number;
    done: number;
    failed: number;
    detections: number;
    created_at: Date;
    finished_at: Date | null;
    lane: Lane;
  }>(
    `SELECT b.id, b.status, b.model, b.created_by, k.name AS created_by_name, b.total, b.created_at, b.finished_at, b.lane,
            c.done, c.failed, c.detections
       FROM (SELECT * FROM batches
              WHERE ($2::timestamptz IS NULL OR created_at < $2)
                AND ($3::text IS NULL OR created_by = $3)
                AND ($4::text IS NULL OR status = $4)
              ORDER BY created_at DESC LIMIT $1) b
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE i.status = 'done')::int AS done,
                count(*) FILTER (WHERE i.status = 'failed')::int AS failed,
                coalesce(sum(n.detections), 0)::int AS detections
           FROM images i
           CROSS JOIN LATERAL (SELECT count(*) AS detections FROM detections d WHERE d.image_id = i.id) n
          WHERE i.batch_id = b.id) c
       LEFT JOIN api_keys k ON k.id = b.key_id
      ORDER BY b.created_at DESC`,
    [options.limit, options.before ?? null, options.createdBy ?? null, options.status ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    model: r.model,
    createdBy: r.created_by,
    createdByName: r.created_by_name,
    progress: { total: r.total, done: r.done, failed: r.failed },
    detections: r.detections,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    lane: r.lane,
  }));
}

/** Ids of batches still queued or running although none of their images is: oldest first, at most `limit`. */
export async function unclosedFinishedBatches(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT b.id FROM batches b
      WHERE b.status IN ('queued', 'running')
        AND NOT EXISTS (SELECT 1 FROM images i WHERE i.batch_id = b.id AND i.status IN ('queued', 'running'))
      ORDER BY b.created_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
