// How a queue's recent jobs ended, read from BullMQ's finished sets (sorted
// sets scored by the time each job finished). The failure rate is judged on
// these rather than on everything BullMQ still keeps: kept jobs span days
// (failed ones longer than completed ones), so one bad night would hold the
// rate up long after the queue works again.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** Jobs finished within this long before now count towards a queue's failure rate. */
export const FAILURE_WINDOW_MS = 60 * 60_000;
/** Fewer finished jobs than this say nothing about a rate; as many successes in a row clear it. */
export const MIN_FINISHED = 10;

export interface RecentOutcomes {
  /** Completed within the window. */
  completed: number;
  /** Failed (for good: after their last attempt) within the window. */
  failed: number;
  /** Completed after the newest failure, at any time up to now (all completed ones when none failed). */
  succeededSinceFailure: number;
}

/**
 * Counts of `queue`'s finished jobs in (now - windowMs, now], read over
 * `redis` (the queue's server); two round trips.
 */
export async function recentOutcomes(redis: Redis, queue: Pick<Queue, 'toKey'>, now: Date, windowMs = FAILURE_WINDOW_MS): Promise<RecentOutcomes> {
  const completedKey = queue.toKey('completed');
  const failedKey = queue.toKey('failed');
  const end = now.getTime();
  const start = `(${end - windowMs}`;
  const [completed, failed, newestFailure] = await Promise.all([
    redis.zcount(completedKey, start, end),
    redis.zcount(failedKey, start, end),
    redis.zrevrangebyscore(failedKey, end, '-inf', 'WITHSCORES', 'LIMIT', 0, 1),
  ]);
  const failedAt = newestFailure[1];
  const succeededSinceFailure = await redis.zcount(completedKey, failedAt === undefined ? '-inf' : `(${failedAt}`, end);
  return { completed, failed, succeededSinceFailure };
}

/**
 * The failure rate a probe reports: failed / finished within the window, or
 * 0 once MIN_FINISHED jobs in a row have succeeded since the last failure
 * (the queue works again). `judged` is false when too few jobs finished.
 */
export function failureRate(o: RecentOutcomes): { rate: number; finished: number; recovered: boolean; judged: boolean } {
  const finished = o.completed + o.failed;
  const recovered = o.failed > 0 && o.succeededSinceFailure >= MIN_FINISHED;
  const rate = finished === 0 || recovered ? 0 : o.failed / finished;
  return { rate, finished, recovered, judged: finished >= MIN_FINISHED };
}
