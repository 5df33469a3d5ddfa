// A retry by hand of a selection of failed images (POST /v1/images/retry), in
// place: each runs again as itself, in its own batch, which is running again
// until they have, then finishes again (finalize-batch: status from the
// counts, audit row, webhook). Only failed images of finished batches go: a
// batch still running has a finalize job waiting for its other images, which
// could close the batch while the retried image is being added to it.
//
// Under the reconciler's lock (REQUEUE_LOCK_KEY), per batch: the images'
// rows and their batch are reopened in one transaction (Postgres first, as a
// submit does), the old jobs removed (the failed detect jobs and the batch's
// finished parent: job ids are per image and per batch, so a job left behind
// would make the new one a no-op), and a new flow of the batch's parent with
// these images enqueued. Their priorities are a requeue allocation of the
// fair share (fair-share.ts), one per key for all of that key's retried
// images, at the front of its fair line, as fair-retry.ts does for Bull
// Board's retries and the reconciler for lost images: retried work takes its
// key's share, never every other key's turn. Should Redis not take a batch's
// flow, its rows are put back as they were (reported queue_unavailable).
import { randomUUID } from 'node:crypto';
import type { FlowProducer } from 'bullmq';
import { withAdvisoryLock } from '../db/advisory-lock.js';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { putBackReopened, reopenFailedImages, retryCandidates, type Reopened, type RetryCandidate } from '../db/repositories/image-retry.js';
import { detectImage, detectImageJobId } from '../jobs/detect-image/definition.js';
import { queueOf, type Queues } from '../jobs/enqueue.js';
import { finalizeBatch, finalizeBatchJobId } from '../jobs/finalize-batch/definition.js';
import { isQueueUnavailable, QueueUnavailableError } from '../redis/queue-redis.js';
import { isFinished } from '../wire/batch-status.js';
import type { RetryImagesResult, RetrySkipReason } from '../wire/images.js';
import { enqueueBatchFlow } from './batch-flow.js';
import { allocatePriorities, confirmAdded, slicePriorities, type FairShareOptions, type Priorities } from './fair-share.js';
import { LIVE_JOB_STATES, REQUEUE_LOCK_KEY } from './reconcile.js';

export interface RetryImagesDeps {
  pool: Pool;
  /** The detect and batches queues (their old jobs are looked at and removed). */
  queues: Queues;
  flows: FlowProducer;
  prefix: string;
  fairShare?: FairShareOptions;
}

type Skipped = RetryImagesResult['skipped'][number];

/**
 * Retries those of `ids` that are failed images of finished batches (see
 * above), as `actor` (audited: one `batch.retry` row per batch reopened).
 * Every other id is reported in `skipped` with its reason; duplicates count
 * once.
 * @throws QueueUnavailableError when Redis is away and nothing could be
 *   retried (every row as it was)
 * @throws what Postgres throws
 */
export async function retryFailedImages(deps: RetryImagesDeps, input: { actor: string; ids: readonly string[] }): Promise<RetryImagesResult> {
  const ids = [...new Set(input.ids)];
  const retried: RetryImagesResult['retried'] = [];
  const skipped: Skipped[] = [];
  const skip = (id: string, reason: RetrySkipReason, message: string) => skipped.push({ id, reason, message });
  const retryId = randomUUID();

  await withAdvisoryLock(deps.pool, REQUEUE_LOCK_KEY, async () => {
    const found = new Map((await retryCandidates(deps.pool, ids)).map((c) => [c.id, c]));
    const byBatch = new Map<string, RetryCandidate[]>();
    for (const id of ids) {
      const c = found.get(id);
      if (!c) skip(id, 'not_found', `image ${id} not found`);
      else if (c.status !== 'failed') skip(id, 'not_failed', `image ${id} is ${c.status}: only failed images are retried`);
      else if (!isFinished(c.batchStatus)) skip(id, 'batch_unfinished', `its batch ${c.batchId} is ${c.batchStatus}: retry once it has finished`);
      else byBatch.set(c.batchId, [...(byBatch.get(c.batchId) ?? []), c]);
    }

    const ready = await withoutLiveJobs(deps, byBatch, skip).catch((err: unknown) => {
      if (!isQueueUnavailable(err)) throw err;
      for (const images of byBatch.values()) for (const c of images) skip(c.id, 'queue_unavailable', 'the queues (Redis) did not answer; nothing changed');
      return new Map<string, RetryCandidate[]>();
    });

    // One requeue allocation per key for all of its images (interactive batches: each on its own, priority 1).
    const groups = new Map<string, string[]>();
    for (const [batchId, images] of ready) {
      const { lane, fairKey } = images[0]!;
      const group = lane === 'bulk' ? `bulk:${fairKey}` : `interactive:${batchId}`;
      groups.set(group, [...(groups.get(group) ?? []), batchId]);
    }
    for (const batchIds of groups.values()) {
      const reopened: Array<{ rows: Reopened; images: RetryCandidate[] }> = [];
      for (const batchId of batchIds) {
        const images = ready.get(batchId)!;
        const rows = await reopenFailedImages(
          deps.pool,
          batchId,
          images.map((c) => c.id),
        );
        const kept = new Set(rows?.images.map((img) => img.id) ?? []);
        // Changed since they were read (another retry, a delete): left alone.
        for (const c of images.filter((c) => !kept.has(c.id)))
          skip(c.id, 'not_failed', `image ${c.id} changed meanwhile: no longer a failed image of a finished batch`);
        if (rows) reopened.push({ rows, images: images.filter((c) => kept.has(c.id)) });
      }
      if (reopened.length === 0) continue;
      const { lane, fairKey } = reopened[0]!.images[0]!;
      const n = reopened.reduce((sum, r) => sum + r.images.length, 0);
      let priorities: Priorities;
      try {
        priorities = await allocatePriorities(deps.flows, deps.prefix, { lane, fairKey, n, requeue: true }, deps.fairShare);
      } catch (err) {
        for (const r of reopened) await putBack(deps, r, err, skip);
        continue;
      }
      const added: string[] = [];
      try {
        let offset = 0;
        for (const r of reopened) {
          try {
            await requeueBatch(deps, r.images, slicePriorities(priorities, offset), retryId);
          } catch (err) {
            await putBack(deps, r, err, skip);
            continue;
          } finally {
            offset += r.images.length;
          }
          added.push(...r.images.map((c) => detectImageJobId(c.id)));
          retried.push(...r.images.map((c) => ({ id: c.id, batchId: c.batchId })));
          await appendAudit(deps.pool, {
            actor: input.actor,
            action: 'batch.retry',
            target: r.rows.batchId,
            details: { images: r.images.map((c) => c.id), previousStatus: r.rows.batch.status, retry: retryId },
          });
        }
      } finally {
        await confirmAdded(deps.flows, deps.prefix, priorities, added, deps.fairShare);
      }
    }
  });

  if (retried.length === 0 && skipped.some((s) => s.reason === 'queue_unavailable')) {
    throw new QueueUnavailableError('the failed images could not be queued again; nothing changed');
  }
  return { retried, skipped };
}

/** The batches of `byBatch` whose finalize job and images' jobs are not live any more (a live one would run the image itself, or not at all). */
async function withoutLiveJobs(
  deps: RetryImagesDeps,
  byBatch: ReadonlyMap<string, RetryCandidate[]>,
  skip: (id: string, reason: RetrySkipReason, message: string) => void,
): Promise<Map<string, RetryCandidate[]>> {
  const detect = queueOf(deps.queues, detectImage);
  const batches = queueOf(deps.queues, finalizeBatch);
  const ready = new Map<string, RetryCandidate[]>();
  for (const [batchId, images] of byBatch) {
    const parent = await batches.getJob(finalizeBatchJobId(batchId));
    const parentState = parent ? await parent.getState() : 'missing';
    if (LIVE_JOB_STATES.has(parentState)) {
      for (const c of images) skip(c.id, 'job_live', `its batch's finalize job is ${parentState}: retry once it has finished`);
      continue;
    }
    const free: RetryCandidate[] = [];
    for (const c of images) {
      const job = await detect.getJob(detectImageJobId(c.id));
      const state = job ? await job.getState() : 'missing';
      if (LIVE_JOB_STATES.has(state)) skip(c.id, 'job_live', `its job is ${state} on the detect queue already`);
      else free.push(c);
    }
    if (free.length > 0) ready.set(batchId, free);
  }
  return ready;
}

/** One reopened batch's images on the queue: their old jobs and the batch's finished parent removed, then a new flow. */
async function requeueBatch(deps: RetryImagesDeps, images: readonly RetryCandidate[], priorities: Priorities, retryId: string): Promise<void> {
  const detect = queueOf(deps.queues, detectImage);
  const batches = queueOf(deps.queues, finalizeBatch);
  const batchId = images[0]!.batchId;
  for (const c of images) await (await detect.getJob(detectImageJobId(c.id)))?.remove();
  // Its finished children (the batch's other images) go with it: they have run, their rows are in Postgres.
  await (await batches.getJob(finalizeBatchJobId(batchId)))?.remove();
  await enqueueBatchFlow(deps.flows, deps.prefix, {
    batchId,
    model: images[0]!.model,
    images: images.map((c) => ({ imageId: c.id, blobKey: c.blobKey, sourceUrl: c.sourceUrl })),
    priorities,
    reopening: retryId,
  });
}

/** The queue did not take a reopened batch: its rows as they were, its images reported; anything but Redis away is thrown on. */
async function putBack(
  deps: RetryImagesDeps,
  r: { rows: Reopened; images: RetryCandidate[] },
  err: unknown,
  skip: (id: string, reason: RetrySkipReason, message: string) => void,
) {
  await putBackReopened(deps.pool, r.rows);
  if (!isQueueUnavailable(err)) throw err;
  for (const c of r.images) skip(c.id, 'queue_unavailable', 'the queues (Redis) did not answer; nothing changed');
}
