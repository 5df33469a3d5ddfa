// Repeatable jobs, as BullMQ job schedulers upserted from config at start:
// idempotent (same scheduler id, same result) and safe with many replicas
// doing it at once; no cron daemon. Visible in Bull Board. Each scheduler
// goes through the door (schedule in src/jobs/enqueue.ts): its payload is
// parsed with its type's schema and its jobs get the type's default options;
// their ids are BullMQ's (a scheduler names its jobs).
import type { Logger } from 'pino';
import type { BackupConfig } from '../config/config.js';
import { backupRun, type BackupRunPayload } from '../jobs/backup-run/definition.js';
import { backupPrune } from '../jobs/backup-prune/definition.js';
import { queueOf, schedule, type Queues } from '../jobs/enqueue.js';
import { healthProbe } from '../jobs/health-probe/definition.js';
import { reconcileJob } from '../jobs/reconcile/definition.js';

export const SCHEDULER_IDS = { backup: 'nightly-backup', prune: 'weekly-backup-prune' } as const;

export async function syncBackupSchedules(queues: Queues, config: BackupConfig, logger: Pick<Logger, 'info' | 'warn'>): Promise<void> {
  if (!config.schedules || !config.key) {
    const backupQueue = queueOf(queues, backupRun);
    await backupQueue.removeJobScheduler(SCHEDULER_IDS.backup);
    await backupQueue.removeJobScheduler(SCHEDULER_IDS.prune);
    if (config.schedules) logger.warn('scheduled backups are off: BACKUP_ENCRYPTION_KEY is not set');
    return;
  }
  const data: BackupRunPayload = { trigger: 'scheduler', actor: 'scheduler' };
  await schedule(queues, backupRun, SCHEDULER_IDS.backup, { pattern: config.cron, tz: config.timezone }, data);
  await schedule(queues, backupPrune, SCHEDULER_IDS.prune, { pattern: config.pruneCron, tz: config.timezone }, { actor: 'scheduler' });
  logger.info({ backup: config.cron, prune: config.pruneCron, timezone: config.timezone }, 'backup schedules synced');
}

export const HEALTH_SCHEDULER_ID = 'health-probe';

export async function syncHealthSchedule(queues: Queues, intervalSeconds: number): Promise<void> {
  await schedule(queues, healthProbe, HEALTH_SCHEDULER_ID, { every: intervalSeconds * 1000 }, {});
}

export const RECONCILE_SCHEDULER_ID = 'reconcile';

export async function syncReconcileSchedule(queues: Queues, intervalSeconds: number): Promise<void> {
  await schedule(queues, reconcileJob, RECONCILE_SCHEDULER_ID, { every: intervalSeconds * 1000 }, {});
}
