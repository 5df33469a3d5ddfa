// Repeatable jobs, as BullMQ job schedulers upserted from config at start:
// idempotent (same scheduler id, same result) and safe with many replicas
// doing it at once; no cron daemon. Visible in Bull Board. Each scheduler
// goes through the door (schedule in src/jobs/enqueue.ts): its payload is
// parsed with its type's schema and its jobs get the type's default options;
// their ids are BullMQ's (a scheduler names its jobs).
import type { Logger } from 'pino';
import type { BackupConfig, Config, PitrConfig } from '../config/config.js';
import { backupRun, type BackupRunPayload } from '../jobs/backup-run/definition.js';
import { backupPrune } from '../jobs/backup-prune/definition.js';
import { queueOf, schedule, type Queues } from '../jobs/enqueue.js';
import { healthProbe } from '../jobs/health-probe/definition.js';
import { reconcileJob } from '../jobs/reconcile/definition.js';
import { retentionPrune } from '../jobs/retention-prune/definition.js';
import { pitrBackup } from '../jobs/pitr-backup/definition.js';
import { pitrDrill } from '../jobs/pitr-drill/definition.js';

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

export const RETENTION_SCHEDULER_ID = 'daily-retention-prune';
/** Daily at 05:00 (BACKUP_TIMEZONE): after the nightly backup (03:00 by default), so what it deletes was backed up. */
export const RETENTION_CRON = '0 5 * * *';

/**
 * Upserts the daily retention-prune scheduler when RETENTION_DAYS is set
 * (its jobs carry the days, so a changed setting changes the next run), and
 * removes it when unset: keep forever.
 */
export async function syncRetentionSchedule(
  queues: Queues,
  config: Pick<Config, 'retention'> & { backup: Pick<BackupConfig, 'timezone'> },
  logger: Pick<Logger, 'info'>,
): Promise<void> {
  const days = config.retention.days;
  if (days === undefined) {
    await queueOf(queues, retentionPrune).removeJobScheduler(RETENTION_SCHEDULER_ID);
    return;
  }
  await schedule(
    queues,
    retentionPrune,
    RETENTION_SCHEDULER_ID,
    { pattern: RETENTION_CRON, tz: config.backup.timezone },
    { actor: 'scheduler', olderThanDays: days },
  );
  logger.info({ retentionDays: days, cron: RETENTION_CRON, timezone: config.backup.timezone }, 'retention schedule synced');
}

export const PITR_SCHEDULER_IDS = { full: 'pitr-full-backup', diff: 'pitr-diff-backup', drill: 'weekly-pitr-drill' } as const;

/**
 * Upserts the pitr schedulers (full and differential pgBackRest backups, the
 * restore drill) when PGBACKREST_CONFIG is set and BACKUP_SCHEDULES is on;
 * removes them otherwise. Only a process consuming the pitr queue runs this:
 * the worker on the database host.
 */
export async function syncPitrSchedules(queues: Queues, config: PitrConfig, logger: Pick<Logger, 'info'>): Promise<void> {
  const queue = queueOf(queues, pitrBackup);
  if (!config.configFile || !config.schedules) {
    for (const id of Object.values(PITR_SCHEDULER_IDS)) await queue.removeJobScheduler(id);
    return;
  }
  const tz = config.timezone;
  await schedule(queues, pitrBackup, PITR_SCHEDULER_IDS.full, { pattern: config.fullCron, tz }, { type: 'full', trigger: 'scheduler', actor: 'scheduler' });
  await schedule(queues, pitrBackup, PITR_SCHEDULER_IDS.diff, { pattern: config.diffCron, tz }, { type: 'diff', trigger: 'scheduler', actor: 'scheduler' });
  await schedule(queues, pitrDrill, PITR_SCHEDULER_IDS.drill, { pattern: config.drillCron, tz }, { trigger: 'scheduler', actor: 'scheduler' });
  logger.info({ full: config.fullCron, diff: config.diffCron, drill: config.drillCron, timezone: tz }, 'pitr schedules synced');
}
