// The worker's memory guard: past WORKER_MAX_RSS_MB the process drains
// (stops taking jobs, finishes active ones) and exits with EXIT_MEMORY_GUARD,
// so `lookout fleet` (supervisor.ts) or the orchestrator restarts it.

import type { Logger } from 'pino';
import type { Config } from '../config/config.js';

/** Exit status of a worker that drained because of the memory guard: the supervisor restarts it. */
export const EXIT_MEMORY_GUARD = 75;

/** Drains and exits (for a restart) when the process's RSS passes WORKER_MAX_RSS_MB. */
export function guardMemory(config: Config, logger: Logger, stop: (reason: string, exitCode?: number) => void): void {
  const limit = config.worker.maxRssMb;
  if (!limit) return;
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss / 1048576;
    if (rss <= limit) return;
    clearInterval(timer);
    logger.warn({ rssMb: Math.round(rss), limitMb: limit }, 'memory guard: RSS above WORKER_MAX_RSS_MB; draining so the supervisor restarts this worker');
    stop('memory guard', EXIT_MEMORY_GUARD);
  }, 1000);
  timer.unref();
}
