// The reconciler: Postgres is the source of truth, the queues are not.
// Images that are not finished and have no live job are re-enqueued (into
// their batch's parent when it still waits for children, else in a new flow
// for the batch); batches whose images are all finished but whose status
// never was are finalised; missing job schedulers are re-created. One
// reconciler at a time (a Postgres advisory lock), bounded work per run, an
// audit row whenever something changed.
import type { FlowProducer, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { finalizeBatch as finalizeBatchRow } from '../db/repositories/batches.js';
import { detectImage, detectImageJobId, type DetectImagePayload } from '../jobs/detect-image/definition.js';
import { finalizeBatch, finalizeBatchJobId } from '../jobs/finalize-batch/definition.js';
import { enqueueBatchFlow } from '../jobs/finalize-batch/enqueue.js';
import { BACKUP_QUEUE } from '../jobs/backup-run/definition.js';
import { HEALTH_QUEUE } from '../jobs/health-probe/definition.js';
import { HEALTH_SCHEDULER_ID, RECONCILE_SCHEDULER_ID, SCHEDULER_IDS, syncBackupSchedules, syncHealthSchedule, syncReconcileSchedule } from '../jobs/schedules.js';

export interface ReconcileDeps {
  pool: Pool;
  queues: ReadonlyMap<string, Queue>;
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

const LIVE = new Set(['waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'paused']);
const LOCK_KEY = 0x72636e6c; // 'rcnl'

async function jobState(queue: Queue, jobId: string): Promise<{ state: string; remove?: () => Promise<void> }> {
  const job = await queue.getJob(jobId);
  if (!job) return { state: 'missing' };
  return { state: await job.getState(), remove: () => job.remove() };
}

export async function reconcile(deps: ReconcileDeps, options: { dryRun?: boolean; limit?: number } = {}): Promise<ReconcileResult> {
  const dryRun = Boolean(options.dryRun);
  const limit = options.limit ?? 1000;
  const result: ReconcileResult = { requeuedImages: 0, finalisedBatches: 0, restoredSchedulers: 0, dryRun };
  const detect = deps.queues.get(detectImage.queue)!;
  const batches = deps.queues.get(finalizeBatch.queue)!;
  const prefix = deps.config.queuePrefix;

  const lockClient = await deps.pool.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);

    // 1. Unfinished images without a live job.
    const { rows: unfinished } = await deps.pool.query<{ id: string; batch_id: string; blob_key: string; model: string }>(
      `SELECT id, batch_id, blob_key, model FROM images WHERE status IN ('queued', 'running') ORDER BY created_at LIMIT $1`,
      [limit],
    );
    const lostByBatch = new Map<string, Array<{ id: string; blobKey: string; model: string; remove?: () => Promise<void> }>>();
    for (const img of unfinished) {
      const { state, remove } = await jobState(detect, detectImageJobId(img.id));
      if (LIVE.has(state)) continue;
      const list = lostByBatch.get(img.batch_id) ?? [];
      list.push({ id: img.id, blobKey: img.blob_key, model: img.model, ...(remove ? { remove } : {}) });
      lostByBatch.set(img.batch_id, list);
    }
    for (const [batchId, lost] of lostByBatch) {
      result.requeuedImages += lost.length;
      if (dryRun) continue;
      for (const l of lost) await l.remove?.().catch(() => undefined);
      const parent = await jobState(batches, finalizeBatchJobId(batchId));
      if (parent.state === 'waiting-children') {
        for (const l of lost) {
          const data: DetectImagePayload = { imageId: l.id, blobKey: l.blobKey, model: l.model };
          await detect.add(detectImage.name, data, {
            ...detectImage.defaultOptions,
            jobId: detectImageJobId(l.id),
            parent: { id: finalizeBatchJobId(batchId), queue: `${prefix}:${finalizeBatch.queue}` },
          });
        }
      } else {
        await parent.remove?.().catch(() => undefined);
        await enqueueBatchFlow(deps.flows, prefix, { batchId, model: lost[0]!.model, images: lost.map((l) => ({ imageId: l.id, blobKey: l.blobKey })) });
      }
    }

    // 2. Batches finished in Postgres whose status never was, with no live parent job.
    const { rows: open } = await deps.pool.query<{ id: string }>(
      `SELECT b.id FROM batches b
        WHERE b.status IN ('queued', 'running')
          AND NOT EXISTS (SELECT 1 FROM images i WHERE i.batch_id = b.id AND i.status IN ('queued', 'running'))
        ORDER BY b.created_at LIMIT $1`,
      [limit],
    );
    for (const b of open) {
      const parent = await jobState(batches, finalizeBatchJobId(b.id));
      if (LIVE.has(parent.state)) continue;
      result.finalisedBatches++;
      if (!dryRun) {
        const batch = await finalizeBatchRow(deps.pool, b.id);
        await appendAudit(deps.pool, { actor: 'reconciler', action: 'batch.finished', target: b.id, outcome: batch?.status === 'completed' ? 'ok' : 'error', details: { status: batch?.status, reconciled: true } });
      }
    }

    // 3. Job schedulers that should exist.
    const health = deps.queues.get(HEALTH_QUEUE)!;
    const backup = deps.queues.get(BACKUP_QUEUE)!;
    const expected: Array<[Queue, string, () => Promise<void>]> = [
      [health, HEALTH_SCHEDULER_ID, () => syncHealthSchedule(health, deps.config.health.intervalSeconds)],
      [health, RECONCILE_SCHEDULER_ID, () => syncReconcileSchedule(health, deps.config.reconcileIntervalSeconds)],
    ];
    if (deps.config.backup.schedules && deps.config.backup.key) {
      expected.push([backup, SCHEDULER_IDS.backup, () => syncBackupSchedules(backup, deps.config.backup, deps.logger)]);
    }
    for (const [queue, id, restore] of expected) {
      if (await queue.getJobScheduler(id)) continue;
      result.restoredSchedulers++;
      if (!dryRun) await restore();
    }
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    lockClient.release();
  }

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
