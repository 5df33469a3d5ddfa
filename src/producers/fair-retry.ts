// Retries by hand on the detect queue (lookout queues retry-failed, POST
// /v1/queues/detect/retry-failed): BullMQ puts the retried jobs on its plain
// wait list; restorePriorities moves them back into the prioritized set, and
// this gives them their places: a retried bulk image goes to the front of its
// key's fair line (a fresh requeue allocation, one per key for all of the
// key's retried images, as the reconciler does), so one key's failed set does
// not run ahead of every other key, nor behind everything. Interactive images
// get the interactive priority; a job with no image row keeps its own.
import type { FlowProducer } from 'bullmq';
import type { Pool } from '../db/pool.js';
import { imageSchedulingOf } from '../db/repositories/images.js';
import type { AssignPriorities } from '../jobs/restore-priorities.js';
import { allocatePriorities, confirmAdded, INTERACTIVE_PRIORITY, type FairShareOptions, type Priorities } from './fair-share.js';

/**
 * The AssignPriorities of retried detect jobs (see above). `jobs` in the
 * order they would have run; each key's images keep that order.
 * @throws what Postgres or Redis throw (nothing is moved then)
 */
export function fairRetryPriorities(deps: { flows: FlowProducer; pool: Pool; prefix: string; fairShare?: FairShareOptions }): AssignPriorities {
  return async (jobs) => {
    const jobIds = jobs.map((job) => job.id!);
    const imageOf = new Map<string, string>();
    for (const job of jobs) {
      const imageId = (job.data as { imageId?: unknown } | undefined)?.imageId;
      if (typeof imageId === 'string') imageOf.set(job.id!, imageId);
    }
    const scheduling = await imageSchedulingOf(deps.pool, [...imageOf.values()]);
    const priorities = new Map<string, number>();
    const byKey = new Map<string, string[]>();
    for (const id of jobIds) {
      const s = scheduling.get(imageOf.get(id) ?? '');
      if (!s) continue;
      if (s.lane === 'interactive') priorities.set(id, INTERACTIVE_PRIORITY);
      else byKey.set(s.fairKey, [...(byKey.get(s.fairKey) ?? []), id]);
    }
    const allocations: Array<{ priorities: Priorities; ids: string[] }> = [];
    for (const [fairKey, ids] of byKey) {
      const p = await allocatePriorities(deps.flows, deps.prefix, { lane: 'bulk', fairKey, n: ids.length, requeue: true }, deps.fairShare);
      allocations.push({ priorities: p, ids });
      ids.forEach((id, i) => priorities.set(id, p.of(i)));
    }
    return {
      priorities,
      async settle() {
        for (const a of allocations) await confirmAdded(deps.flows, deps.prefix, a.priorities, a.ids, deps.fairShare);
      },
    };
  };
}
