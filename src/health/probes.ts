// Health probes of every dependency: each returns a component with status,
// value and threshold. A probe that throws is itself a critical component,
// so one broken dependency never hides the others.
import { statfs } from 'node:fs/promises';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Config } from '../config/config.js';
import { BACKUPS_OFF } from '../config/config-warnings.js';
import { installedAt } from '../db/migrate.js';
import { databaseSizeBytes } from '../db/database-size.js';
import { recentReconcileRepairs } from '../db/repositories/audit-log.js';
import { BACKUPS_ENABLED, firstSeen } from '../db/repositories/milestones.js';
import type { Pool } from '../db/pool.js';
import { newestVerifiedBackupAt } from '../db/repositories/backups.js';
import type { ComponentHealth, HealthCheck, HealthStatus } from '../db/repositories/health-checks.js';
import { liveWindowMs, liveWorkersPerQueue } from '../db/repositories/workers.js';
import { formatBytes, plural } from '../text/format.js';
import { problemsFirst } from '../text/health-view.js';
import { readGpus } from './gpus.js';
import { probeBackupDir } from './backup-dir-probe.js';
import { ARCHIVING_COMPONENT, probeArchiving } from './archiving-probe.js';
import { failureRate, MIN_FINISHED, recentOutcomes } from './recent-outcomes.js';
import { withTimeout } from './with-timeout.js';
import { whenRedisReady } from '../redis/queue-redis.js';

export interface ProbeDeps {
  redis: Redis;
  pool: Pool;
  queues: ReadonlyMap<string, Queue>;
  /** The process's blob store: its bucket is probed with BLOB_STORE=s3. */
  blobs: Pick<BlobStore, 'check' | 'location'>;
  config: Pick<Config, 'blobs' | 'backup' | 'alerts' | 'heartbeatMs' | 'pitr'>;
  now: () => Date;
}

const ok = (name: string, value: ComponentHealth['value'], threshold: ComponentHealth['threshold'], message: string, unit?: string): ComponentHealth => ({
  name,
  status: 'ok',
  value,
  threshold,
  message,
  ...(unit ? { unit } : {}),
});
const worst = (statuses: HealthStatus[]): HealthStatus => (statuses.includes('critical') ? 'critical' : statuses.includes('warn') ? 'warn' : 'ok');

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

export async function probeRedis(redis: Redis): Promise<ComponentHealth[]> {
  await whenRedisReady(redis); // away: fails at once, saying why
  const [, latency] = await timed(() => withTimeout(redis.ping(), 2000));
  const info = await withTimeout(redis.info('memory'), 2000);
  const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  const policy = field('maxmemory_policy') ?? 'unknown';
  const used = Number(field('used_memory') ?? 0);
  const max = Number(field('maxmemory') ?? 0);
  const components: ComponentHealth[] = [ok('redis', Math.round(latency * 100) / 100, 100, `PING in ${latency.toFixed(1)} ms`, 'ms')];
  components.push(
    policy === 'noeviction'
      ? ok('redis.eviction_policy', policy, 'noeviction', 'maxmemory-policy is noeviction')
      : {
          name: 'redis.eviction_policy',
          status: 'critical',
          value: policy,
          threshold: 'noeviction',
          message: `maxmemory-policy is ${policy}: Redis may evict BullMQ's keys and lose jobs; set it to noeviction`,
        },
  );
  if (max > 0) {
    const ratio = used / max;
    components.push({
      name: 'redis.memory',
      status: ratio > 0.9 ? 'critical' : ratio > 0.75 ? 'warn' : 'ok',
      value: Math.round(ratio * 1000) / 1000,
      threshold: 0.75,
      unit: 'ratio',
      message: `${formatBytes(used)} of ${formatBytes(max)} used`,
    });
  } else {
    components.push(ok('redis.memory', used, null, `${formatBytes(used)} used, no maxmemory set`, 'bytes'));
  }
  return components;
}

export async function probePostgres(pool: Pool): Promise<ComponentHealth[]> {
  const [size, latency] = await timed(() => withTimeout(databaseSizeBytes(pool), 2000));
  return [
    ok('postgres', Math.round(latency * 100) / 100, 100, `query in ${latency.toFixed(1)} ms`, 'ms'),
    ok('postgres.size', size, null, `database is ${formatBytes(size)}`, 'bytes'),
  ];
}

export async function probeDisk(name: string, dir: string, minFreePercent: number): Promise<ComponentHealth> {
  const stats = await statfs(dir).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return statfs('.'); // not created yet: the volume it will be on
    throw err;
  });
  const free = (Number(stats.bavail) / Number(stats.blocks)) * 100;
  const status: HealthStatus = free < minFreePercent ? 'critical' : free < minFreePercent * 2 ? 'warn' : 'ok';
  return { name, status, value: Math.round(free * 10) / 10, threshold: minFreePercent, unit: 'percent free', message: `${free.toFixed(1)} % free at ${dir}` };
}

/**
 * The bucket of BLOB_STORE=s3 (`blobs.bucket`): HeadBucket with this
 * process's credentials, its latency in ms (a bucket that does not answer,
 * refuses the credentials or is missing makes the probe fail: critical).
 */
export async function probeBucket(blobs: Pick<BlobStore, 'check' | 'location'>): Promise<ComponentHealth> {
  const [, latency] = await timed(() => withTimeout(blobs.check(), 5000));
  return ok('blobs.bucket', Math.round(latency * 100) / 100, 1000, `${blobs.location} answers in ${latency.toFixed(1)} ms`, 'ms');
}

/**
 * Per queue: backlog (warn above ALERT_BACKLOG_THRESHOLD), failure rate over
 * the last hour's jobs (warn above ALERT_FAILURE_RATE, judged from
 * MIN_FINISHED jobs) and live workers (critical when none while jobs wait).
 */
export async function probeQueues(deps: ProbeDeps): Promise<ComponentHealth[]> {
  const live = await liveWorkersPerQueue(deps.pool, liveWindowMs(deps.config.heartbeatMs));
  const components: ComponentHealth[] = [];
  for (const queue of deps.queues.values()) {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    const { backlogThreshold, failureRate: maxFailureRate } = deps.config.alerts;
    components.push({
      name: `queue.${queue.name}.backlog`,
      status: waiting > backlogThreshold ? 'warn' : 'ok',
      value: waiting,
      threshold: backlogThreshold,
      unit: 'jobs',
      message: `${waiting} waiting, ${counts.active ?? 0} active, ${counts.delayed ?? 0} delayed`,
    });
    // Over the last hour's jobs, not all BullMQ keeps: a queue that works again is ok again.
    const recent = await recentOutcomes(deps.redis, queue, deps.now());
    const judged = failureRate(recent);
    components.push({
      name: `queue.${queue.name}.failure_rate`,
      status: judged.judged && judged.rate > maxFailureRate ? 'warn' : 'ok',
      value: Math.round(judged.rate * 1000) / 1000,
      threshold: maxFailureRate,
      unit: 'ratio',
      message: judged.recovered
        ? `${plural(recent.succeededSinceFailure, 'job')} in a row succeeded since the last failure`
        : judged.finished === 0
          ? 'no jobs finished in the last hour'
          : `${recent.failed} failed of ${plural(judged.finished, 'job')} finished in the last hour${judged.judged ? '' : `: too few to judge (${MIN_FINISHED} needed)`}`,
    });
    const workers = live[queue.name] ?? 0;
    components.push({
      name: `queue.${queue.name}.workers`,
      status: workers === 0 && waiting > 0 ? 'critical' : 'ok',
      value: workers,
      threshold: 1,
      unit: 'workers',
      message: workers === 0 && waiting > 0 ? `no live worker consumes ${queue.name}, ${waiting} jobs waiting` : plural(workers, 'live worker'),
    });
  }
  return components;
}

/**
 * Backups: off (no key) is its own warning, `backup.enabled`, never a stale
 * backup. With a key, `backup.age` is critical once the newest verified
 * backup is older than ALERT_BACKUP_MAX_AGE_HOURS; before the first one, the
 * age is measured from the install (the first migration) or, when backups
 * were turned on later, from the first probe that saw them on (recorded once,
 * milestone `backups.enabled`), so the first backup gets the schedule's time.
 */
export async function probeBackups(deps: ProbeDeps): Promise<ComponentHealth> {
  const maxHours = deps.config.alerts.backupMaxAgeHours;
  if (!deps.config.backup.key) {
    return { name: 'backup.enabled', status: 'warn', value: 'off', threshold: 'on', message: BACKUPS_OFF };
  }
  const [newest, installed, enabled] = await Promise.all([newestVerifiedBackupAt(deps.pool), installedAt(deps.pool), firstSeen(deps.pool, BACKUPS_ENABLED)]);
  const now = deps.now().getTime();
  const base = { name: 'backup.age', threshold: maxHours, unit: 'hours' };
  if (!newest) {
    // The first backup gets its time from the install, or from when backups
    // were turned on for an install that ran without them.
    const turnedOnLater = installed !== undefined && enabled.getTime() > installed.getTime() + 60_000;
    const since = turnedOnLater ? enabled : (installed ?? deps.now());
    const what = turnedOnLater ? 'backups were turned on' : 'Lookout was installed';
    const hoursSince = (now - since.getTime()) / 3_600_000;
    if (hoursSince > maxHours) {
      return { ...base, status: 'critical', value: null, message: `no verified backup in the ${hoursSince.toFixed(1)} h since ${what}` };
    }
    const left = Math.max(0, maxHours - hoursSince);
    const ago = `${turnedOnLater ? 'turned on' : 'installed'} ${Math.max(0, hoursSince).toFixed(1)} h ago`;
    return { ...base, status: 'ok', value: null, message: `no verified backup yet; the first is due within ${left.toFixed(1)} h (${ago})` };
  }
  const hours = (now - newest.getTime()) / 3_600_000;
  return {
    ...base,
    status: hours > maxHours ? 'critical' : 'ok',
    value: Math.round(hours * 10) / 10,
    message: `newest verified backup is ${hours.toFixed(1)} h old`,
  };
}

export async function probeGpus(maxCelsius: number): Promise<ComponentHealth[]> {
  const gpus = await readGpus();
  return (gpus ?? []).map((g) => ({
    name: `gpu.${g.index}`,
    status: g.temperatureC > maxCelsius ? 'critical' : 'ok',
    value: g.temperatureC,
    threshold: maxCelsius,
    unit: 'celsius',
    message: `${g.name}: ${(g.utilization * 100).toFixed(0)} % busy, ${(g.memoryUsedBytes / 1048576).toFixed(0)}/${(g.memoryTotalBytes / 1048576).toFixed(0)} MiB, ${g.temperatureC} °C`,
  }));
}

/** Work the reconciler found lost (and repaired) in the last hour. */
export async function probeLostWork(deps: ProbeDeps): Promise<ComponentHealth> {
  const { runs: n, images } = await recentReconcileRepairs(deps.pool);
  return {
    name: 'reconcile.lost_work',
    status: n > 0 ? 'warn' : 'ok',
    value: images,
    threshold: 0,
    unit: 'images',
    message:
      n > 0
        ? `the reconciler repaired lost work ${n} times in the last hour (${images} images re-enqueued): the queues lost jobs`
        : 'no lost work in the last hour',
  };
}

async function guarded(name: string, probe: () => Promise<ComponentHealth | ComponentHealth[]>): Promise<ComponentHealth[]> {
  try {
    const result = await probe();
    return Array.isArray(result) ? result : [result];
  } catch (err) {
    return [{ name, status: 'critical', value: null, threshold: null, message: `probe failed: ${err instanceof Error ? err.message : String(err)}` }];
  }
}

/** Every probe at once; the overall status is the worst component's. Never throws for a failing dependency. */
export async function runProbes(deps: ProbeDeps): Promise<HealthCheck> {
  const blobStore = deps.config.blobs;
  const groups = await Promise.all([
    guarded('redis', () => probeRedis(deps.redis)),
    guarded('postgres', () => probePostgres(deps.pool)),
    guarded(ARCHIVING_COMPONENT, () => probeArchiving(deps.pool, deps.config)),
    // BLOB_DIR's disk, or the bucket: never both, and with s3 nothing of BLOB_DIR.
    blobStore.store === 'fs'
      ? guarded('disk.blobs', () => probeDisk('disk.blobs', blobStore.dir, deps.config.alerts.diskMinFreePercent))
      : guarded('blobs.bucket', () => probeBucket(deps.blobs)),
    guarded('disk.backups', () => probeDisk('disk.backups', deps.config.backup.dir, deps.config.alerts.diskMinFreePercent)),
    guarded('queues', () => probeQueues(deps)),
    guarded('backup.age', () => probeBackups(deps)),
    guarded('backup.dir', () => probeBackupDir(deps.config.backup.dir, deps.config.backup.key !== undefined)),
    guarded('gpu', () => probeGpus(deps.config.alerts.gpuMaxCelsius)),
    guarded('reconcile.lost_work', () => probeLostWork(deps)),
  ]);
  // Problems first (critical, then warn), each group in probe order.
  const components = problemsFirst(groups.flat());
  return { at: deps.now(), status: worst(components.map((c) => c.status)), components };
}
