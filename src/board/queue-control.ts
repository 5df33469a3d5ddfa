// Queue control for operators: list, pause, resume, retry failed jobs, clean
// finished ones, set a queue's global concurrency. The CLI and /v1/queues are
// thin doors onto this; both audit.
import type { Queue } from 'bullmq';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import type { FlowProducer } from 'bullmq';
import { detectImage } from '../jobs/detect-image/definition.js';
import { restorePriorities } from '../jobs/restore-priorities.js';
import { fairRetryPriorities } from '../producers/fair-retry.js';
import { JOB_COUNT_STATES, type CleanState, type GlobalConcurrencyResult, type QueueAction, type QueueControlResult, type QueueView } from '../wire/queues.js';

export type { QueueAction, QueueView } from '../wire/queues.js';

export async function listQueues(queues: ReadonlyMap<string, Queue>): Promise<QueueView[]> {
  return Promise.all(
    [...queues.values()].map(async (q) => ({
      name: q.name,
      paused: await q.isPaused(),
      counts: await q.getJobCounts(...JOB_COUNT_STATES),
      globalConcurrency: await q.getGlobalConcurrency(),
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

/**
 * Pauses, resumes, retries the failed jobs of, or cleans queue `name`,
 * audited as queue.<action> with `actor`. Retried jobs that have a priority
 * go back into the prioritized set (BullMQ puts them on its plain wait list,
 * which runs first); on the detect queue, with `flows`, each key's retried
 * images go to the front of its fair line, one share per key.
 * @throws UnknownQueueError for a queue this process does not have
 */
export async function controlQueue(
  deps: { queues: ReadonlyMap<string, Queue>; pool: Pool; flows?: FlowProducer; prefix?: string },
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
      // BullMQ puts them on the plain wait list, ahead of every prioritized job: back into the lanes.
      const fair =
        name === detectImage.queue && deps.flows && deps.prefix !== undefined
          ? fairRetryPriorities({ flows: deps.flows, pool: deps.pool, prefix: deps.prefix })
          : undefined;
      await restorePriorities(queue, undefined, fair);
      break;
    }
    case 'clean':
      affected = (await queue.clean(options.olderThanMs ?? 3_600_000, 100_000, options.state ?? 'completed')).length;
      break;
  }
  await appendAudit(deps.pool, { actor, action: `queue.${action}`, target: `queue:${name}`, details: { affected, ...options } });
  return { queue: name, action, affected };
}

/**
 * Sets (or, with null, removes) how many jobs of a queue run at once across
 * the whole fleet: BullMQ's global concurrency, a field of the queue's meta
 * hash that its Lua scripts read each time a worker asks for a job. Running
 * workers obey it without a restart: above the limit none takes a new job;
 * raised, idle slots pick up work at their next fetch (within the workers'
 * drainDelay, 5 s, or at once when a job finishes). Each worker's own
 * --concurrency stays its local ceiling. Audited as queue.concurrency with
 * the old and new value.
 */
export async function setGlobalConcurrency(
  deps: { queues: ReadonlyMap<string, Queue>; pool: Pool },
  name: string,
  concurrency: number | null,
  actor: string,
): Promise<GlobalConcurrencyResult> {
  const queue = deps.queues.get(name);
  if (!queue) throw new UnknownQueueError(name, deps.queues.keys());
  const previous = await queue.getGlobalConcurrency();
  if (concurrency === null) await queue.removeGlobalConcurrency();
  else await queue.setGlobalConcurrency(concurrency);
  await appendAudit(deps.pool, { actor, action: 'queue.concurrency', target: `queue:${name}`, details: { previous, concurrency } });
  return { queue: name, previous, concurrency };
}
