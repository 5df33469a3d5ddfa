// Repeatable jobs, as BullMQ job schedulers upserted from config at start:
// idempotent (same scheduler id, same result) and safe with many replicas
// doing it at once; no cron daemon. Visible in Bull Board. Each scheduler's
// jobs get their type's default options (jobOptions, the door's own merge);
// their ids are BullMQ's (a scheduler names its jobs).
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { BackupConfig } from '../config/config.js';
import { backupRun, type BackupRunPayload } from '../jobs/backup-run/definition.js';
import { backupPrune } from '../jobs/backup-prune/definition.js';
import { jobOptions } from '../jobs/enqueue.js';
import { healthProbe } from '../jobs/health-probe/definition.js';
import { reconcileJob } from '../jobs/reconcile/definition.js';

export const SCHEDULER_IDS = { backup: 'nightly-backup', prune: 'weekly-backup-prune' } as const;

export async function syncBackupSchedules(backupQueue: Queue, config: BackupConfig, logger: Pick<Logger, 'info' | 'warn'>): Promise<void> {
  if (!config.schedules || !config.key) {
    await backupQueue.removeJobScheduler(SCHEDULER_IDS.backup);
    await backupQueue.removeJobScheduler(SCHEDULER_IDS.prune);
    if (config.schedules) logger.warn('scheduled backups are off: BACKUP_ENCRYPTION_KEY is not set');
    return;
  }
  const data: BackupRunPayload = { trigger: 'scheduler', actor: 'scheduler' };
  await backupQueue.upsertJobScheduler(
    SCHEDULER_IDS.backup,
    { pattern: config.cron, tz: config.timezone },
    { name: backupRun.name, data, opts: jobOptions(backupRun) },
  );
  await backupQueue.upsertJobScheduler(
    SCHEDULER_IDS.prune,
    { pattern: config.pruneCron, tz: config.timezone },
    { name: backupPrune.name, data: { actor: 'scheduler' }, opts: jobOptions(backupPrune) },
  );
  logger.info({ backup: config.cron, prune: config.pruneCron, timezone: config.timezone }, 'backup schedules synced');
}

export const HEALTH_SCHEDULER_ID = 'health-probe';

export async function syncHealthSchedule(healthQueue: Queue, intervalSeconds: number): Promise<void> {
  await healthQueue.upsertJobScheduler(
    HEALTH_SCHEDULER_ID,
    { every: intervalSeconds * 1000 },
    { name: healthProbe.name, data: {}, opts: jobOptions(healthProbe) },
  );
}

export const RECONCILE_SCHEDULER_ID = 'reconcile';

export async function syncReconcileSchedule(healthQueue: Queue, intervalSeconds: number): Promise<void> {
  await healthQueue.upsertJobScheduler(
    RECONCILE_SCHEDULER_ID,
    { every: intervalSeconds * 1000 },
    { name: reconcileJob.name, data: {}, opts: jobOptions(reconcileJob) },
  );
}
