// Registers a worker process in Postgres and heartbeats its counters and
// current jobs, so the fleet view and the no-worker alert see every process
// on every host. A heartbeat that fails (Postgres blinking) is retried on the
// next beat, never fatal.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { heartbeatWorker, markWorkerStopped, registerWorker, type WorkerIdentity, type WorkerStats } from '../db/repositories/workers.js';

const requireFromHere = createRequire(import.meta.url);
export const LOOKOUT_VERSION = (requireFromHere('../../package.json') as { version: string }).version;

export function newWorkerIdentity(queues: string[], device: string | null, concurrency: number): WorkerIdentity {
  const host = hostname();
  return { id: `${host}:${process.pid}:${randomBytes(2).toString('hex')}`, host, pid: process.pid, queues, device, concurrency, version: LOOKOUT_VERSION };
}

export interface Heartbeat {
  stop(): Promise<void>;
}

export async function startHeartbeat(
  pool: Pool,
  identity: WorkerIdentity,
  stats: () => WorkerStats,
  options: { intervalMs: number; logger: Pick<Logger, 'warn'> },
): Promise<Heartbeat> {
  await registerWorker(pool, identity, options.intervalMs);
  let failing = false;
  const timer = setInterval(() => {
    heartbeatWorker(pool, identity.id, stats())
      // Cut off from Postgres past WORKER_HISTORY_HOURS, the row was pruned: register again.
      .then((known) => (known ? undefined : registerWorker(pool, identity, options.intervalMs)))
      .then(
        () => (failing = false),
        (err: Error) => {
          if (!failing) options.logger.warn({ err: err.message, worker: identity.id }, 'heartbeat failed; retrying');
          failing = true;
        },
      );
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await markWorkerStopped(pool, identity.id, stats()).catch(() => undefined);
    },
  };
}
