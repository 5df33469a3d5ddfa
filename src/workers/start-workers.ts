// Starts BullMQ workers for the queues a process claims, and stops them
// gracefully: stop taking jobs, let active ones finish within a deadline
// (worker.close() has none of its own), then force-close.

import { Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { buildProcessors, QUEUE_CONCURRENCY_LIMIT, type HandlerDeps } from '../jobs/registry.js';

export interface WorkerOptions {
  queues: readonly string[];
  /** Jobs in flight per queue. */
  concurrency: number;
  connection: ConnectionOptions;
  prefix: string;
  /** Job lock: renewed at half this interval; a dead worker's jobs return after it. */
  lockMs: number;
  deps: HandlerDeps;
  logger: Logger;
}

export interface RunningWorkers {
  workers: Worker[];
  close(graceMs: number): Promise<void>;
}

export async function startWorkers(options: WorkerOptions): Promise<RunningWorkers> {
  const { logger } = options;
  const processors = buildProcessors(options.queues, options.deps);
  const workers = [...processors].map(([queue, processor]) => {
    const worker = new Worker(queue, processor, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: Math.min(options.concurrency, QUEUE_CONCURRENCY_LIMIT[queue] ?? Infinity),
      // The lock is renewed every lockMs / 2 by the event loop, which never
      // blocks for long (inference runs in a thread), so even hour-long
      // backups keep it; a killed worker's jobs return after one
      // stalled-check interval (lockMs, 30 s by default).
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      maxStalledCount: 2,
      autorun: true,
    });
    worker.on('failed', (job, err) =>
      logger.warn({ queue, jobId: job?.id, name: job?.name, attempts: job?.attemptsMade, err: err.message }, 'job failed'),
    );
    worker.on('error', (err) => logger.error({ queue, err: err.message }, 'worker error'));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ queues: options.queues, concurrency: options.concurrency }, 'workers started');

  return {
    workers,
    async close(graceMs: number) {
      const graceful = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
      const outcome = await Promise.race([graceful.then(() => 'closed' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.warn({ graceMs }, 'active jobs did not finish within the grace period; closing anyway');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}
