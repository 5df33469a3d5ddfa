// Queue control for operators: list, pause, resume, retry failed jobs, clean
// finished ones. The CLI and /v1/queues are thin doors onto this; both audit.
import type { Queue } from 'bullmq';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { JOB_COUNT_STATES, type CleanState, type QueueAction, type QueueControlResult, type QueueView } from '../wire/queues.js';

export type { QueueAction, QueueView } from '../wire/queues.js';

export async function listQueues(queues: ReadonlyMap<string, Queue>): Promise<QueueView[]> {
  return Promise.all(
    [...queues.values()].map(async (q) => ({
      name: q.name,
      paused: await q.isPaused(),
      counts: await q.getJobCounts(...JOB_COUNT_STATES),
    })),
  );
}

/** No queue of that name in this process; the API answers 404, the CLI prints the message and exits 2. */
export class UnknownQueueError extends Error {
  override name = 'UnknownQueueError';
  constructor(
    readonly queue: string,
    known: Iterable<string>,
  ) {
    super(`unknown queue "${queue}"; queues: ${[...known].join(', ')}`);
  }
}

export async function controlQueue(
  deps: { queues: ReadonlyMap<string, Queue>; pool: Pool },
  name: string,
  action: QueueAction,
  actor: string,
  options: { state?: CleanState; olderThanMs?: number } = {},
): Promise<QueueControlResult> {
  const queue = deps.queues.get(name);
  if (!queue) throw new UnknownQueueError(name, deps.queues.keys());
  let affected = 0;
  switch (action) {
    case 'pause':
      await queue.pause();
      break;
    case 'resume':
      await queue.resume();
      break;
    case 'retry-failed': {
      affected = (await queue.getJobCounts('failed')).failed ?? 0;
      await queue.retryJobs({ state: 'failed', count: 1000 });
      break;
    }
    case 'clean':
      affected = (await queue.clean(options.olderThanMs ?? 3_600_000, 100_000, options.state ?? 'completed')).length;
      break;
  }
  await appendAudit(deps.pool, { actor, action: `queue.${action}`, target: `queue:${name}`, details: { affected, ...options } });
  return { queue: name, action, affected };
}
