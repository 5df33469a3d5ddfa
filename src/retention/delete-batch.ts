// Deleting one finished batch by hand (DELETE /v1/batches/:id), as the prune
// deletes old ones (prune.ts): its rows in one transaction (images and
// detections with it), then its own blobs that no other image uses, under
// the blob-removal lock (remove-blobs.ts): a blob another batch still
// references stays, and so does every object submitted by reference (only
// own blob keys are candidates: ownBlob). A crash between the rows and the
// blobs leaves blobs without rows, which the orphan sweep of a later prune
// takes; never rows without blobs. Audited as batch.delete.
import { withTransaction } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { deleteFinishedBatch } from '../db/repositories/retention.js';
import type { BatchStatus } from '../wire/batch-status.js';
import { removeUnreferencedBlobs, type RemovalDeps } from './remove-blobs.js';

/** The batch is queued or running (or one of its images is): it is not deleted. */
export class BatchUnfinishedError extends Error {
  override name = 'BatchUnfinishedError';
  constructor(
    readonly batchId: string,
    readonly status: BatchStatus,
    readonly unfinishedImages: number,
  ) {
    super(
      `batch ${batchId} is ${status}${unfinishedImages > 0 ? ` with ${unfinishedImages} image${unfinishedImages === 1 ? '' : 's'} queued or running` : ''}: only a finished batch is deleted; wait for it to finish`,
    );
  }
}

export interface DeletedBatchSummary {
  id: string;
  images: number;
  detections: number;
  blobs: {
    /** The batch's own blobs removed from the store, and their bytes. */
    removed: number;
    bytes: number;
    /** Its own blobs left because another batch's images use them. */
    kept: number;
    /** Deletes the store refused (left for the orphan sweep). */
    failed: number;
  };
}

/**
 * Deletes finished batch `id` as `actor` (see above).
 * @returns undefined when there is no such batch
 * @throws BatchUnfinishedError when it is not finished (nothing deleted)
 * @throws what Postgres throws (the rows as they were when it is the delete
 *   that failed; rows gone and some blobs left when it is a blob page)
 */
export async function deleteBatchAndBlobs(deps: RemovalDeps, id: string, actor: string): Promise<DeletedBatchSummary | undefined> {
  const outcome = await withTransaction(deps.pool, (tx) => deleteFinishedBatch(tx, id));
  if (!outcome) return undefined;
  if (!outcome.deleted) throw new BatchUnfinishedError(id, outcome.status, outcome.unfinishedImages);
  const removed = await removeUnreferencedBlobs(deps, outcome.blobs).catch(async (err: unknown) => {
    await appendAudit(deps.pool, {
      actor,
      action: 'batch.delete',
      target: id,
      outcome: 'error',
      details: { images: outcome.images, detections: outcome.detections, blobCandidates: outcome.blobs.length, error: (err as Error).message },
    }).catch(() => undefined);
    throw err;
  });
  const summary: DeletedBatchSummary = {
    id,
    images: outcome.images,
    detections: outcome.detections,
    blobs: { removed: removed.blobs, bytes: removed.bytes, kept: outcome.blobs.length - removed.blobs - removed.failed, failed: removed.failed },
  };
  await appendAudit(deps.pool, {
    actor,
    action: 'batch.delete',
    target: id,
    outcome: removed.failed > 0 ? 'error' : 'ok',
    details: { images: summary.images, detections: summary.detections, blobs: summary.blobs },
  });
  return summary;
}
