// Health probes of every dependency: each returns a component with status,
// value and threshold. A probe that throws is itself a critical component,
// so one broken dependency never hides the others.
import { statfs } from 'node:fs/promises';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { ComponentHealth, HealthCheck, HealthStatus } from '../db/repositories/health-checks.js';
import { liveWindowMs, liveWorkersPerQueue } from '../db/repositories/workers.js';
import { readGpus } from './gpus.js';
import { withTimeout } from '../runtime/with-timeout.js';
import { whenRedisReady } from '../runtime/queue-redis.js';

export interface ProbeDeps {
  redis: Redis;
  pool: Pool;
  queues: ReadonlyMap<string, Queue>;
  config: Pick<Config, 'blobDir' | 'backup' | 'alerts' | 'heartbeatMs'>;
  now: () => Date;
}

const ok = (name: string, value: ComponentHealth['value'], threshold: ComponentHealth['threshold'], message: string, unit?: string): ComponentHealth => ({
  name, status: 'ok', value, threshold, message, ...(unit ? { unit } : {}),
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
      message: `${(used / 1048576).toFixed(0)} MiB of ${(max / 1048576).toFixed(0)} MiB used`,
    });
  } else {
    components.push(ok('redis.memory', used, null, `${(used / 1048576).toFixed(0)} MiB used, no maxmemory set`, 'bytes'));
  }
  return components;
}

export async function probePostgres(pool: Pool): Promise<ComponentHealth[]> {
  const [result, latency] = await timed(() => withTimeout(pool.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size'), 2000));
  return [
    ok('postgres', Math.round(latency * 100) / 100, 100, `query in ${latency.toFixed(1)} ms`, 'ms'),
    ok('postgres.size', Number(result.rows[0]?.size), null, `database is ${(Number(result.rows[0]?.size) / 1048576).toFixed(0)} MiB`, 'bytes'),
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

export async function probeQueues(deps: ProbeDeps): Promise<ComponentHealth[]> {
  const live = await liveWorkersPerQueue(deps.pool, liveWindowMs(deps.config.heartbeatMs));
  const components: ComponentHealth[] = [];
  for (const queue of deps.queues.values()) {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    const { backlogThreshold, failureRate } = deps.config.alerts;
    components.push({
      name: `queue.${queue.name}.backlog`,
      status: waiting > backlogThreshold ? 'warn' : 'ok',
      value: waiting,
      threshold: backlogThreshold,
      unit: 'jobs',
      message: `${waiting} waiting, ${counts.active ?? 0} active, ${counts.delayed ?? 0} delayed`,
    });
    // Over the jobs BullMQ still keeps (removeOnComplete/removeOnFail caps).
    const finished = (counts.failed ?? 0) + (counts.completed ?? 0);
    const rate = finished === 0 ? 0 : (counts.failed ?? 0) / finished;
    components.push({
      name: `queue.${queue.name}.failure_rate`,
      status: finished >= 10 && rate > failureRate ? 'warn' : 'ok',
      value: Math.round(rate * 1000) / 1000,
      threshold: failureRate,
      unit: 'ratio',
      message: `${counts.failed ?? 0} failed of ${finished} kept finished jobs`,
    });
    const workers = live[queue.name] ?? 0;
    components.push({
      name: `queue.${queue.name}.workers`,
      status: workers === 0 && waiting > 0 ? 'critical' : 'ok',
      value: workers,
      threshold: 1,
      unit: 'workers',
      message: workers === 0 && waiting > 0 ? `no live worker consumes ${queue.name}, ${waiting} jobs waiting` : `${workers} live workers`,
    });
  }
  return components;
}

export async function probeBackups(deps: ProbeDeps): Promise<ComponentHealth> {
  const maxHours = deps.config.alerts.backupMaxAgeHours;
  if (!deps.config.backup.key) {
    return { name: 'backup.age', status: 'warn', value: null, threshold: maxHours, unit: 'hours', message: 'backups are off: BACKUP_ENCRYPTION_KEY is not set' };
  }
  const { rows } = await deps.pool.query<{ at: Date | null }>(`SELECT max(finished_at) AS at FROM backups WHERE status = 'verified'`);
  const at = rows[0]?.at;
  if (!at) return { name: 'backup.age', status: 'critical', value: null, threshold: maxHours, unit: 'hours', message: 'no verified backup exists' };
  const hours = (deps.now().getTime() - at.getTime()) / 3_600_000;
  return {
    name: 'backup.age',
    status: hours > maxHours ? 'critical' : 'ok',
    value: Math.round(hours * 10) / 10,
    threshold: maxHours,
    unit: 'hours',
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
  const { rows } = await deps.pool.query<{ n: number; images: number }>(
    `SELECT count(*)::int AS n, coalesce(sum((details->>'requeuedImages')::int), 0)::int AS images
       FROM audit_log WHERE action = 'reconcile.run' AND at > now() - interval '1 hour'`,
  );
  const { n, images } = rows[0] ?? { n: 0, images: 0 };
  return {
    name: 'reconcile.lost_work',
    status: n > 0 ? 'warn' : 'ok',
    value: images,
    threshold: 0,
    unit: 'images',
    message: n > 0 ? `the reconciler repaired lost work ${n} times in the last hour (${images} images re-enqueued): the queues lost jobs` : 'no lost work in the last hour',
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

export async function runProbes(deps: ProbeDeps): Promise<HealthCheck> {
  const groups = await Promise.all([
    guarded('redis', () => probeRedis(deps.redis)),
    guarded('postgres', () => probePostgres(deps.pool)),
    guarded('disk.blobs', () => probeDisk('disk.blobs', deps.config.blobDir, deps.config.alerts.diskMinFreePercent)),
    guarded('disk.backups', () => probeDisk('disk.backups', deps.config.backup.dir, deps.config.alerts.diskMinFreePercent)),
    guarded('queues', () => probeQueues(deps)),
    guarded('backup.age', () => probeBackups(deps)),
    guarded('gpu', () => probeGpus(deps.config.alerts.gpuMaxCelsius)),
    guarded('reconcile.lost_work', () => probeLostWork(deps)),
  ]);
  const components = groups.flat();
  return { at: deps.now(), status: worst(components.map((c) => c.status)), components };
}
