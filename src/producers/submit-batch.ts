// Submitting a batch: the rows first (Postgres is the source of truth), then
// the flow. If Redis refuses the flow, the batch's rows are deleted again.
// The blobs a refused submit uploaded are removed by discardUploadedBlobs,
// which the route calls for every refusal, except those an image of another
// batch uses (blobs are content-addressed and shared). Audited with the actor.

import { randomUUID } from 'node:crypto';
import type { FlowProducer } from 'bullmq';
import type { BlobStore } from '../blobs/blob-store.js';
import { assertKeyStillValid } from '../auth/api-keys.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { deleteBatch, insertBatch, interactiveImagesInFlight } from '../db/repositories/batches.js';
import {
  blobsRemovedSince,
  holdBlobRemovals,
  lockForBlobRemoval,
  recordBlobRemovals,
  unreferencedBlobKeys,
  type BlobRemovalMark,
} from '../db/repositories/blob-references.js';
import { insertImages } from '../db/repositories/images.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { enqueueBatchFlow } from './batch-flow.js';
import { allocatePriorities, laneOf, releasePriorities, type FairShareOptions, type Priorities } from './fair-share.js';
import { isQueueUnavailable, QueueUnavailableError } from '../redis/queue-redis.js';

export interface SubmittedImage {
  id: string;
  filename: string;
  /** null for an image by reference (computed by the worker that reads it). */
  sha256: string | null;
  bytes: number;
  /** By reference: its s3://BUCKET/KEY. */
  source?: string;
}

export interface SubmitBatchInput {
  actor: string;
  /** The API key the request was authenticated with: checked again (not revoked, not expired) before any row is written. */
  keyId: string;
  model: string;
  minScore: number;
  /** Checked by the caller (checkWebhookTarget). */
  webhookUrl?: string;
  /** Already in the blob store (receiveUpload). */
  /** Uploaded (already in the blob store: receiveUpload), or by reference (sourceUrl, checked by the caller; sha256 and blobKey null). */
  files: Array<{ filename: string; sha256: string | null; bytes: number; blobKey: string | null; sourceUrl?: string }>;
  /** blobRemovalMark, read before the first of these blobs was stored (or, for blobs already stored, before their keys were read). */
  removalMark: BlobRemovalMark;
  /** A re-run (rerun-batch.ts): the batch whose images these are, named in the audit row. */
  rerunOf?: string;
}

export interface SubmitBatchDeps {
  pool: Pool;
  flows: FlowProducer;
  blobs: BlobStore;
  prefix: string;
  /** INTERACTIVE_MAX_IMAGES: a batch of at most this many images goes in the interactive lane. */
  interactiveMaxImages: number;
  fairShare?: FairShareOptions;
}

/**
 * Inserts the batch and its images, then enqueues the batch's flow.
 * @throws KeyNoLongerValidError when the key was revoked or expired during
 *   the upload; no row is written (the caller discards its blobs)
 * @throws QueueUnavailableError when Redis refuses the flow (or an uploaded
 *   blob was removed meanwhile by such a failed submit of the same bytes, or
 *   by a prune);
 *   then no row of this batch remains (the caller discards its blobs)
 */
export async function submitBatch(deps: SubmitBatchDeps, input: SubmitBatchInput): Promise<{ id: string; images: SubmittedImage[] }> {
  const batchId = randomUUID();
  const images = input.files.map((f, position) => ({ ...f, id: randomUUID(), position }));
  const keys = [...new Set(images.flatMap((img) => (img.blobKey ? [img.blobKey] : [])))];
  let lane = laneOf(images.length, deps.interactiveMaxImages);
  await withTransaction(deps.pool, async (db) => {
    // A failed submit of the same bytes, or retention (src/retention), may
    // have removed a blob this one uploaded (it had no rows yet); checked
    // under the lock that removal takes, against the removals recorded since
    // this request began (one query, not a HEAD per blob).
    // Authenticated when the upload began; it may have been revoked or have
    // expired by its last byte. Locked until commit: a revocation waits.
    await assertKeyStillValid(db, input.keyId);
    await holdBlobRemovals(db);
    const removed = await blobsRemovedSince(db, input.removalMark, keys);
    // A request received for longer than removals are remembered: the blob store is asked about each blob.
    const gone = removed ?? (await Promise.all(keys.map(async (key) => ((await deps.blobs.has(key)) ? [] : [key])))).flat();
    if (gone.length > 0)
      throw new QueueUnavailableError('an uploaded image was removed at the same time (a failed submit of the same bytes, or a prune); send the request again');
    // The interactive lane is charged to the key: at most INTERACTIVE_MAX_IMAGES of its images in
    // the lane at a time; a small batch beyond that takes the key's fair share in bulk instead.
    if (lane === 'interactive' && (await interactiveImagesInFlight(db, input.keyId)) + images.length > deps.interactiveMaxImages) lane = 'bulk';
    await insertBatch(db, {
      id: batchId,
      model: input.model,
      minScore: input.minScore,
      total: images.length,
      createdBy: input.actor,
      webhookUrl: input.webhookUrl ?? null,
      lane,
      keyId: input.keyId,
    });
    await insertImages(db, batchId, input.model, input.minScore, images);
  });
  let priorities: Priorities | undefined;
  try {
    priorities = await allocatePriorities(deps.flows, deps.prefix, { lane, fairKey: input.keyId, n: images.length }, deps.fairShare);
    await enqueueBatchFlow(deps.flows, deps.prefix, {
      batchId,
      model: input.model,
      images: images.map((img) => ({ imageId: img.id, blobKey: img.blobKey, sourceUrl: img.sourceUrl ?? null })),
      priorities,
    });
  } catch (err) {
    // Its key's line ends where it did before (when nothing of the key was handed out after it).
    if (priorities) await releasePriorities(deps.flows, deps.prefix, priorities);
    await deleteBatch(deps.pool, batchId).catch(() => undefined); // its images go with it
    await appendAudit(deps.pool, {
      actor: input.actor,
      action: 'batch.submit',
      target: batchId,
      outcome: 'error',
      details: { reason: 'queue unavailable' },
    }).catch(() => undefined);
    throw isQueueUnavailable(err) ? err : new QueueUnavailableError(`could not enqueue the batch: ${(err as Error).message}`, { cause: err });
  }
  await appendAudit(deps.pool, {
    actor: input.actor,
    action: 'batch.submit',
    target: batchId,
    details: { images: images.length, model: input.model, minScore: input.minScore, ...(input.rerunOf ? { rerunOf: input.rerunOf } : {}) },
  });
  return {
    id: batchId,
    images: images.map(({ id, filename, sha256, bytes, sourceUrl }) => ({ id, filename, sha256, bytes, ...(sourceUrl ? { source: sourceUrl } : {}) })),
  };
}

/**
 * Removes the blobs among `keys` that no image row references: what a refused
 * or failed submit stored (an unknown model, a refused webhook, a cut-off
 * upload). Blobs other batches use stay. Never throws: a blob left behind is
 * only space.
 */
export async function discardUploadedBlobs(deps: Pick<SubmitBatchDeps, 'pool' | 'blobs'>, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await withTransaction(deps.pool, async (db) => {
    await lockForBlobRemoval(db);
    const unreferenced = await unreferencedBlobKeys(db, keys);
    await recordBlobRemovals(db, unreferenced);
    await removeBlobs(deps.blobs, unreferenced);
  }).catch(() => undefined);
}

/** Removed while the lock is held: a submit inserting rows for one of them waits, then sees it recorded as removed. */
async function removeBlobs(blobs: BlobStore, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => blobs.delete(key)));
}
