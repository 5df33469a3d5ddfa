// The reconciler: Postgres is the source of truth, the queues are not.
// Images that are not finished and have no live job are re-enqueued (into
// their batch's parent when it still waits for children, else in a new flow
// for the batch); batches whose images are all finished but whose status
// never was are finalised (finishBatch, the finalize job's own function, so
// their webhook goes out too); missing job schedulers are re-created. One
// reconciler at a time (a Postgres advisory lock), bounded work per run, an
// audit row whenever something changed.
import type { FlowProducer, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { withAdvisoryLock } from '../db/advisory-lock.js';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { batchScheduling, unclosedFinishedBatches } from '../db/repositories/batches.js';
import { unfinishedImages } from '../db/repositories/images.js';
import { BACKUP_QUEUE } from '../jobs/backup-run/definition.js';
import { bytesSource, detectImage, detectImageJobId } from '../jobs/detect-image/definition.js';
import { enqueue, type Queues } from '../jobs/enqueue.js';
import { restorePriorities } from '../jobs/restore-priorities.js';
import { finalizeBatch, finalizeBatchJobId } from '../jobs/finalize-batch/definition.js';
import { finishBatch } from '../jobs/finalize-batch/finish-batch.js';
import { HEALTH_QUEUE } from '../jobs/health-probe/definition.js';
import { PITR_QUEUE } from '../jobs/pitr-backup/definition.js';
import { enqueueBatchFlow } from './batch-flow.js';
import { allocatePriorities, confirmAdded, slicePriorities, type Priorities } from './fair-share.js';
import type { Lane } from '../wire/batches.js';
import {
  HEALTH_SCHEDULER_ID,
  PITR_SCHEDULER_IDS,
  RECONCILE_SCHEDULER_ID,
  RETENTION_SCHEDULER_ID,
  SCHEDULER_IDS,
  syncBackupSchedules,
  syncHealthSchedule,
  syncPitrSchedules,
  syncReconcileSchedule,
  syncRetentionSchedule,
} from './schedules.js';

export interface ReconcileDeps {
  pool: Pool;
  queues: Queues;
  flows: FlowProducer;
  config: Config;
  logger: Pick<Logger, 'info' | 'warn'>;
  onAction?: (kind: 'requeued_image' | 'finalised_batch' | 'restored_scheduler', n: number) => void;
}

export interface ReconcileResult {
  requeuedImages: number;
  finalisedBatches: number;
  restoredSchedulers: number;
  dryRun: boolean;
}

/** BullMQ job states in which a job will still run (or is running). */
export const LIVE_JOB_STATES: ReadonlySet<string> = new Set(['waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'paused']);
/**
 * The reconciler's lock: one run at a time, and retries by hand of failed
 * images (retry-images.ts) take it too, so neither puts the same images back
 * while the other is between their rows and their jobs.
 */
export const REQUEUE_LOCK_KEY = 0x72636e6c; // 'rcnl'

async function jobState(queue: Queue, jobId: string): Promise<{ state: string; remove?: () => Promise<void> }> {
  const job = await queue.getJob(jobId);
  if (!job) return { state: 'missing' };
  return { state: await job.getState(), remove: () => job.remove() };
}

type LostImage = { id: string; blobKey: string | null; sourceUrl: string | null; model: string; remove?: () => Promise<void> };

/** One batch's lost images back on the queue: into its parent when that still waits for children, else in a new flow. */
async function requeueBatch(deps: ReconcileDeps, batchId: string, lane: Lane, lost: readonly LostImage[], priorities: Priorities): Promise<void> {
  const batches = deps.queues.get(finalizeBatch.queue)!;
  const prefix = deps.config.queuePrefix;
  for (const l of lost) await l.remove?.().catch(() => undefined);
  const parent = await jobState(batches, finalizeBatchJobId(batchId));
  if (parent.state === 'waiting-children') {
    for (const [i, l] of lost.entries()) {
      await enqueue(
        deps.queues,
        detectImage,
        { imageId: l.id, ...bytesSource(l), model: l.model, lane },
        {
          parent: { id: finalizeBatchJobId(batchId), queue: batches.qualifiedName },
          priority: priorities.of(i),
        },
      );
    }
  } else {
    await parent.remove?.().catch(() => undefined);
    await enqueueBatchFlow(deps.flows, prefix, {
      batchId,
      model: lost[0]!.model,
      images: lost.map((l) => ({ imageId: l.id, blobKey: l.blobKey, sourceUrl: l.sourceUrl })),
      priorities,
    });
  }
}

export async function reconcile(deps: ReconcileDeps, options: { dryRun?: boolean; limit?: number } = {}): Promise<ReconcileResult> {
  const dryRun = Boolean(options.dryRun);
  const limit = options.limit ?? 1000;
  const result: ReconcileResult = { requeuedImages: 0, finalisedBatches: 0, restoredSchedulers: 0, dryRun };
  const detect = deps.queues.get(detectImage.queue)!;
  const batches = deps.queues.get(finalizeBatch.queue)!;
  const prefix = deps.config.queuePrefix;

  await withAdvisoryLock(deps.pool, REQUEUE_LOCK_KEY, async () => {
    // 1. Unfinished images without a live job.
    const unfinished = await unfinishedImages(deps.pool, limit);
    const lostByBatch = new Map<string, LostImage[]>();
    for (const img of unfinished) {
      const { state, remove } = await jobState(detect, detectImageJobId(img.id));
      if (LIVE_JOB_STATES.has(state)) continue;
      const list = lostByBatch.get(img.batchId) ?? [];
      list.push({ id: img.id, blobKey: img.blobKey, sourceUrl: img.sourceUrl, model: img.model, ...(remove ? { remove } : {}) });
      lostByBatch.set(img.batchId, list);
    }
    const scheduling = dryRun ? new Map<string, { lane: Lane; fairKey: string }>() : await batchScheduling(deps.pool, [...lostByBatch.keys()]);
    // One allocation per key for all of its lost images, bulk batches in the order found: a key with
    // several lost batches gets one share at the front of the fair line, not one per batch.
    const byKey = new Map<string, string[]>();
    for (const batchId of lostByBatch.keys()) {
      const { lane, fairKey } = scheduling.get(batchId) ?? { lane: 'bulk' as const, fairKey: 'reconciler' };
      const group = lane === 'bulk' ? fairKey : `interactive:${batchId}`;
      byKey.set(group, [...(byKey.get(group) ?? []), batchId]);
    }
    for (const batchIds of byKey.values()) {
      const lost = batchIds.flatMap((id) => lostByBatch.get(id)!);
      result.requeuedImages += lost.length;
      if (dryRun) continue;
      const { lane, fairKey } = scheduling.get(batchIds[0]!) ?? { lane: 'bulk' as const, fairKey: 'reconciler' };
      // Their lane, and in bulk the front of their key's fair line: their first place has passed.
      const priorities = await allocatePriorities(deps.flows, prefix, { lane, fairKey, n: lost.length, requeue: true });
      try {
        let offset = 0;
        for (const batchId of batchIds) {
          const images = lostByBatch.get(batchId)!;
          await requeueBatch(deps, batchId, lane, images, slicePriorities(priorities, offset));
          offset += images.length;
        }
      } finally {
        await confirmAdded(
          deps.flows,
          prefix,
          priorities,
          lost.map((l) => detectImageJobId(l.id)),
        );
      }
    }

    // 1b. Detect jobs BullMQ put back on the plain wait list (a retry by hand, a stalled job whose
    // worker did not restore it): they would run before every prioritized job. Back to their places.
    if (!dryRun) {
      const restored = await restorePriorities(detect);
      if (restored > 0) {
        deps.logger.warn({ restored }, 'detect jobs were on the plain wait list, ahead of the lanes; moved back to their priorities');
        await appendAudit(deps.pool, { actor: 'reconciler', action: 'reconcile.restore-priorities', outcome: 'ok', details: { restored } });
      }
    }

    // 2. Batches finished in Postgres whose status never was, with no live parent job.
    for (const batchId of await unclosedFinishedBatches(deps.pool, limit)) {
      const parent = await jobState(batches, finalizeBatchJobId(batchId));
      if (LIVE_JOB_STATES.has(parent.state)) continue;
      result.finalisedBatches++;
      if (!dryRun) await finishBatch(deps, batchId, 'reconciler');
    }

    // 3. Job schedulers that should exist.
    const health = deps.queues.get(HEALTH_QUEUE)!;
    const backup = deps.queues.get(BACKUP_QUEUE)!;
    const expected: Array<[Queue, string, () => Promise<void>]> = [
      [health, HEALTH_SCHEDULER_ID, () => syncHealthSchedule(deps.queues, deps.config.health.intervalSeconds)],
      [health, RECONCILE_SCHEDULER_ID, () => syncReconcileSchedule(deps.queues, deps.config.reconcileIntervalSeconds)],
    ];
    if (deps.config.backup.schedules && deps.config.backup.key) {
      expected.push([backup, SCHEDULER_IDS.backup, () => syncBackupSchedules(deps.queues, deps.config.backup, deps.logger)]);
    }
    if (deps.config.retention.days !== undefined) {
      expected.push([backup, RETENTION_SCHEDULER_ID, () => syncRetentionSchedule(deps.queues, deps.config, deps.logger)]);
    }
    if (deps.config.pitr.configFile && deps.config.pitr.schedules) {
      const pitr = deps.queues.get(PITR_QUEUE)!;
      for (const id of Object.values(PITR_SCHEDULER_IDS)) {
        expected.push([pitr, id, () => syncPitrSchedules(deps.queues, deps.config.pitr, deps.logger)]);
      }
    }
    for (const [queue, id, restore] of expected) {
      if (await queue.getJobScheduler(id)) continue;
      result.restoredSchedulers++;
      if (!dryRun) await restore();
    }
  });

  if (!dryRun) {
    deps.onAction?.('requeued_image', result.requeuedImages);
    deps.onAction?.('finalised_batch', result.finalisedBatches);
    deps.onAction?.('restored_scheduler', result.restoredSchedulers);
    if (result.requeuedImages + result.finalisedBatches + result.restoredSchedulers > 0) {
      await appendAudit(deps.pool, { actor: 'reconciler', action: 'reconcile.run', outcome: 'ok', details: { ...result } });
      deps.logger.warn({ ...result }, 'reconciler found lost work and repaired it');
    }
  }
  return result;
}
