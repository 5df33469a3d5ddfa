// Starts BullMQ workers for the queues a process claims, and stops them
// gracefully: stop taking jobs, let active ones finish within a deadline
// (worker.close() has none of its own), then force-close.

import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { WorkerStats } from '../db/repositories/workers.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from 'pino';
import { buildProcessors, QUEUE_CONCURRENCY_LIMIT, type HandlerDeps } from '../jobs/registry.js';
import { restorePriorities } from '../jobs/restore-priorities.js';
import { inJobSpan } from '../tracing/spans.js';
import { queueTelemetry } from '../tracing/tracer.js';

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
  metrics?: Metrics;
  /** One processor per queue; by default the registry's handlers over `deps` (tests pass their own). */
  processors?: Map<string, (job: Job) => Promise<unknown>>;
}

export interface RunningWorkers {
  workers: Worker[];
  /** Counters and current jobs, for the heartbeat. */
  stats(): WorkerStats;
  close(graceMs: number): Promise<void>;
}

/** A lost or refused Redis connection, in Node's or ioredis's words. */
const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|Socket closed unexpectedly|connect ETIMEDOUT/;

export async function startWorkers(options: WorkerOptions): Promise<RunningWorkers> {
  const { logger } = options;
  const processors = options.processors ?? buildProcessors(options.queues, options.deps);
  let jobsDone = 0;
  let jobsFailed = 0;
  const current = new Map<string, { queue: string; id: string; name: string; since: string }>();
  // While Redis is away every worker reports each reconnect attempt: one warn
  // line a minute for those, every other error as it comes.
  let connectionErrorLoggedAt = 0;
  const logWorkerError = (queue: string, err: Error) => {
    if (!CONNECTION_ERROR.test(err.message)) return logger.error({ queue, err: err.message }, 'worker error');
    if (Date.now() - connectionErrorLoggedAt < 60_000) return logger.debug({ queue, err: err.message }, 'worker connection error');
    connectionErrorLoggedAt = Date.now();
    logger.warn({ queue, err: err.message }, 'worker cannot reach Redis; it retries and resumes by itself');
  };
  const workers = [...processors].map(([queue, processor]) => {
    // A job is current while its processor runs. Not from the 'active' and
    // 'completed'/'failed' events: a job whose keys Redis lost meanwhile (a
    // Redis restarted empty) ends with neither event, only a worker error.
    const tracked = async (job: Job) => {
      const key = `${queue}:${job.id}`;
      current.set(key, { queue, id: String(job.id), name: job.name, since: new Date().toISOString() });
      try {
        // Traced: a span named for the job type, under BullMQ's `process <queue>` span, for the handler to annotate.
        return await inJobSpan(job, () => processor(job));
      } finally {
        current.delete(key);
      }
    };
    const worker = new Worker(queue, tracked, {
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
      // Traced: each run continues the trace of whoever added the job (a batch's runs, its submit request's).
      ...queueTelemetry(),
    });
    const finished = (job: Job | undefined, outcome: 'completed' | 'failed') => {
      if (!job) return;
      if (job.processedOn && job.finishedOn) {
        options.metrics?.jobDuration.observe({ queue, name: job.name, outcome }, (job.finishedOn - job.processedOn) / 1000);
      }
    };
    worker.on('completed', (job) => {
      jobsDone++;
      finished(job, 'completed');
    });
    worker.on('failed', (job, err) => {
      jobsFailed++;
      finished(job, 'failed');
      logger.warn({ queue, jobId: job?.id, name: job?.name, attempts: job?.attemptsMade, err: err.message }, 'job failed');
    });
    worker.on('error', (err) => logWorkerError(queue, err));
    // A stalled job is pushed onto the plain wait list, ahead of every prioritized job (the
    // interactive lane included): back to its own priority. The reconciler's sweep catches a miss.
    worker.on('stalled', (jobId) => {
      restorePriorities(worker, [jobId]).catch((err: Error) => logger.warn({ queue, jobId, err: err.message }, "could not restore a stalled job's priority"));
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ queues: options.queues, concurrency: options.concurrency }, 'workers started');

  options.metrics?.workerUp.set({ queues: options.queues.join(',') }, 1);
  return {
    workers,
    stats: () => ({ jobsDone, jobsFailed, currentJobs: [...current.values()] }),
    async close(graceMs: number) {
      options.metrics?.workerUp.set({ queues: options.queues.join(',') }, 0);
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
