// The job schedulers (health probes, reconcile, nightly backup, backup prune,
// retention prune, pitr backups and drill) live in
// Redis, so a Redis restarted empty loses them. The process that owns them
// (it consumes the health, backup or pitr queue) syncs them at start and again each
// time its queue connection is ready after a reconnect, then runs
// `afterReconnect` (the reconciler: work Postgres says is unfinished and the
// queues lost goes back in), so nobody has to run `lookout reconcile`.
import { BACKUP_QUEUE } from '../jobs/backup-run/definition.js';
import { HEALTH_QUEUE } from '../jobs/health-probe/definition.js';
import { PITR_QUEUE } from '../jobs/pitr-backup/definition.js';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Queues } from '../jobs/enqueue.js';
import { isQueueUnavailable } from '../redis/queue-redis.js';
import { syncBackupSchedules, syncHealthSchedule, syncPitrSchedules, syncReconcileSchedule, syncRetentionSchedule } from './schedules.js';

/** The parts of the process's services (runtime/services.ts) the keeper uses. */
interface ScheduleDeps {
  queues: Queues;
  config: Config;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** The fail-fast queue connection, whose 'ready' after a reconnect triggers a sync. */
  redis: Redis;
}

/** Upserts (idempotently) the schedulers of the queues among `queues` that have any. */
export async function syncSchedules(services: ScheduleDeps, queues: readonly string[]): Promise<void> {
  if (queues.includes(BACKUP_QUEUE)) {
    await syncBackupSchedules(services.queues, services.config.backup, services.logger);
    await syncRetentionSchedule(services.queues, services.config, services.logger);
  }
  if (queues.includes(HEALTH_QUEUE)) {
    await syncHealthSchedule(services.queues, services.config.health.intervalSeconds);
    await syncReconcileSchedule(services.queues, services.config.reconcileIntervalSeconds);
  }
  if (queues.includes(PITR_QUEUE)) await syncPitrSchedules(services.queues, services.config.pitr, services.logger);
}

/**
 * Syncs the schedulers now and after every reconnect of `services.redis`
 * (ioredis 'ready'). Redis away now is not an error: the sync waits for it.
 * Resolves once the first sync was done or deferred; stop() ends the watch.
 * @throws what the first sync throws other than QueueUnavailableError (a bad cron pattern)
 */
export async function keepSchedules(
  services: ScheduleDeps,
  queues: readonly string[],
  options: { afterReconnect?: () => void } = {},
): Promise<{ stop(): void }> {
  if (![BACKUP_QUEUE, HEALTH_QUEUE, PITR_QUEUE].some((q) => queues.includes(q))) return { stop: () => undefined };
  const { logger, redis } = services;
  let running = false;
  const resync = () => {
    if (running) return; // a reconnect while syncing: the sync under way covers it
    running = true;
    void (async () => {
      await syncSchedules(services, queues);
      logger.info({ queues }, 'job schedulers synced after Redis came back');
      options.afterReconnect?.();
    })()
      .catch((err: unknown) =>
        logger.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'job schedulers not synced after Redis came back; the next reconnect tries again',
        ),
      )
      .finally(() => (running = false));
  };

  let synced = true;
  try {
    await syncSchedules(services, queues);
  } catch (err) {
    if (!isQueueUnavailable(err)) throw err;
    synced = false;
    logger.warn({ err: (err as Error).message }, 'Redis is away: the job schedulers are synced when it answers');
  }
  redis.on('ready', resync);
  if (!synced && redis.status === 'ready') resync(); // back before the listener was on
  return { stop: () => void redis.off('ready', resync) };
}
