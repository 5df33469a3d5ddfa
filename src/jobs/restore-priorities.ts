// Jobs with a priority that BullMQ put back on the plain wait list, where
// they would run before every prioritized job. BullMQ (checked against
// 5.81) keeps a job's `priority` when an automatic retry moves it back
// (retryJob) but pushes it onto the plain list when a failed job is retried
// by hand (Job.retry, Queue.retryJobs: reprocessJob, moveJobsToWait) and when
// a stalled job is moved back (moveStalledJobsToWait). BullMQ's own
// changePriority, given the priority the job already has, takes it off the
// wait list and into the prioritized set at its place again.
import { Job, type Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/** How many jobs of a list one pass looks at (the end BullMQ takes next first). */
export const RESTORE_SCAN_LIMIT = 10_000;

/**
 * Moves every job on `queue`'s wait list (or its paused list, where BullMQ
 * puts retried jobs while the queue is paused) that has a priority (> 0,
 * stored in its job hash) back into the prioritized set with that same
 * priority. `jobIds`: look at these only (a retry's or a stalled event's
 * jobs); otherwise at the whole lists, RESTORE_SCAN_LIMIT jobs a pass, from
 * the end taken next. Jobs without a priority are left alone, and so is a job
 * a worker takes meanwhile (changePriority finds it on no list and rewrites
 * only its stored field, with the same value). `assign`: their new priorities (default: the one each has). Returns how many jobs moved.
 * O(jobs looked at).
 * @throws what ioredis throws when Redis is away
 */
export async function restorePriorities(queue: Queue | Worker, jobIds?: readonly string[], assign?: AssignPriorities): Promise<number> {
  const client = (await queue.client) as unknown as Redis;
  const lists = [queue.keys.wait!, queue.keys.paused!];
  if (jobIds) {
    // Only those still on a list (LPOS: O(list), the wait list of a prioritized queue is short).
    const on = await Promise.all(jobIds.map(async (id) => (await Promise.all(lists.map((list) => client.lpos(list, id)))).some((at) => at !== null)));
    return restoreAmong(
      queue,
      client,
      jobIds.filter((_, i) => on[i]),
      assign,
    );
  }
  let total = 0;
  for (const list of lists) {
    // Until a pass moves nothing: more than RESTORE_SCAN_LIMIT retried at once take several passes.
    for (let pass = 0; pass < 1000; pass++) {
      // Taking end first: the order BullMQ would have run them in.
      const moved = await restoreAmong(queue, client, (await client.lrange(list, -RESTORE_SCAN_LIMIT, -1)).reverse(), assign);
      total += moved;
      if (moved === 0) break;
    }
  }
  return total;
}

/**
 * Which priority each job gets back (by id; a job left out keeps its own),
 * and a settle() to call once they are all moved. Lets the fair share put a
 * retry by hand at the front of its key's fair line instead of at its old
 * place (src/producers/fair-retry.ts).
 */
export type AssignPriorities = (jobs: readonly Job[]) => Promise<{ priorities: ReadonlyMap<string, number>; settle(): Promise<void> }>;

/** Those of `ids` (on the wait or paused list) with a priority, moved; counted when they are in the prioritized set after. */
async function restoreAmong(queue: Queue | Worker, client: Redis, ids: readonly string[], assign?: AssignPriorities): Promise<number> {
  if (ids.length === 0) return 0;
  const stored = await Promise.all(ids.map((id) => client.hget(queue.toKey(id), 'priority')));
  const own = new Map<string, number>();
  ids.forEach((id, i) => {
    if (Number(stored[i] ?? 0) > 0) own.set(id, Number(stored[i]));
  });
  if (own.size === 0) return 0;
  // Each job read once, for the assigner and for the move.
  const jobs = (await Promise.all([...own.keys()].map((id) => Job.fromId(queue as Queue, id)))).filter((job): job is Job => job !== undefined);
  const assigned = assign ? await assign(jobs) : undefined;
  let moved = 0;
  try {
    for (const job of jobs) {
      const id = job.id!;
      await job.changePriority({ priority: assigned?.priorities.get(id) ?? own.get(id)! });
      if ((await client.zscore(queue.keys.prioritized!, id)) !== null) moved++;
    }
  } finally {
    await assigned?.settle();
  }
  return moved;
}
