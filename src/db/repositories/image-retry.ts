// A retry by hand of failed images, in place (POST /v1/images/retry): which
// of the asked-for images may go again, reopening them and their finished
// batch in one transaction, and putting both back as they were when the
// queue would not take them. src/producers/retry-images.ts runs these.
import type { ImageStatus } from '../../wire/batch-status.js';
import { TERMINAL_BATCH_STATUSES, type BatchStatus } from '../../wire/batch-status.js';
import type { Lane } from '../../wire/batches.js';
import { withTransaction, type Pool } from '../pool.js';
import type { Queryable } from '../pool.js';

/** One asked-for image as a retry sees it, with its batch's status and scheduling. */
export interface RetryCandidate {
  id: string;
  batchId: string;
  status: ImageStatus;
  blobKey: string | null;
  sourceUrl: string | null;
  model: string;
  batchStatus: BatchStatus;
  lane: Lane;
  /** Whose fair share its work takes: the batch's API key, or its creator for batches from before keys were kept. */
  fairKey: string;
}

/** Those of `ids` that exist (the others are simply absent), with their batches. */
export async function retryCandidates(db: Queryable, ids: readonly string[]): Promise<RetryCandidate[]> {
  const { rows } = await db.query<RetryCandidate>(
    `SELECT i.id, i.batch_id AS "batchId", i.status, i.blob_key AS "blobKey", i.source_url AS "sourceUrl", i.model,
            b.status AS "batchStatus", b.lane, coalesce(b.key_id, b.created_by) AS "fairKey"
       FROM images i JOIN batches b ON b.id = i.batch_id
      WHERE i.id = ANY($1::uuid[])`,
    [ids],
  );
  return rows;
}

/** What reopening changed, to put back should the queue refuse the work. */
export interface Reopened {
  batchId: string;
  batch: { status: BatchStatus; finishedAt: Date };
  images: Array<{ id: string; errorCode: string | null; errorMessage: string | null; finishedAt: Date | null; workerId: string | null }>;
}

/**
 * In one transaction: when batch `batchId` is finished (locked first), those
 * of `imageIds` in it that are still failed become queued again (error,
 * finish time and worker cleared; their attempt count goes on), and the
 * batch becomes running with no finish time, so it finishes again when they
 * have run. Returns what changed, or undefined when the batch is not finished
 * any more or none of the images is still failed (nothing changed).
 */
export async function reopenFailedImages(pool: Pool, batchId: string, imageIds: readonly string[]): Promise<Reopened | undefined> {
  return withTransaction(pool, async (db) => {
    const locked = await db.query<{ status: BatchStatus; finishedAt: Date }>(
      `SELECT status, finished_at AS "finishedAt" FROM batches WHERE id = $1 AND status = ANY($2::text[]) FOR UPDATE`,
      [batchId, TERMINAL_BATCH_STATUSES],
    );
    const batch = locked.rows[0];
    if (!batch) return undefined;
    const { rows: images } = await db.query<Reopened['images'][number]>(
      `UPDATE images i SET status = 'queued', error_code = NULL, error_message = NULL, finished_at = NULL, worker_id = NULL
         FROM (SELECT id, error_code, error_message, finished_at, worker_id FROM images
                WHERE id = ANY($2::uuid[]) AND batch_id = $1 AND status = 'failed' FOR UPDATE) old
        WHERE i.id = old.id
        RETURNING i.id, old.error_code AS "errorCode", old.error_message AS "errorMessage", old.finished_at AS "finishedAt", old.worker_id AS "workerId"`,
      [batchId, imageIds],
    );
    if (images.length === 0) return undefined;
    await db.query(`UPDATE batches SET status = 'running', finished_at = NULL WHERE id = $1`, [batchId]);
    return { batchId, batch, images };
  });
}

/**
 * Undoes reopenFailedImages when the queue did not take the work: those of
 * the images still queued (no worker has claimed one: it had no job) are
 * failed again with their own error, and the batch, while none of its images
 * is queued or running, gets its status and finish time back.
 */
export async function putBackReopened(pool: Pool, reopened: Reopened): Promise<void> {
  await withTransaction(pool, async (db) => {
    await db.query(`SELECT 1 FROM batches WHERE id = $1 FOR UPDATE`, [reopened.batchId]);
    await db.query(
      `UPDATE images i SET status = 'failed', error_code = r.error_code, error_message = r.error_message, finished_at = r.finished_at, worker_id = r.worker_id
         FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, error_code text, error_message text, finished_at timestamptz, worker_id text)
        WHERE i.id = r.id AND i.batch_id = $1 AND i.status = 'queued'`,
      [
        reopened.batchId,
        JSON.stringify(
          reopened.images.map((img) => ({
            id: img.id,
            error_code: img.errorCode,
            error_message: img.errorMessage,
            finished_at: img.finishedAt,
            worker_id: img.workerId,
          })),
        ),
      ],
    );
    await db.query(
      `UPDATE batches b SET status = $2, finished_at = $3
        WHERE b.id = $1 AND NOT EXISTS (SELECT 1 FROM images u WHERE u.batch_id = b.id AND u.status IN ('queued', 'running'))`,
      [reopened.batchId, reopened.batch.status, reopened.batch.finishedAt],
    );
  });
}
