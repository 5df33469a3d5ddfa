// What producer and worker agree on for one job type: the queue, the job
// name, the payload schema, the default job options and the job-id rule.
// Jobs go onto the queues through one door (enqueue.ts) that applies them.

import type { Job, JobsOptions } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { zodIssues } from '../text/zod-issues.js';

export interface JobType<P extends z.ZodType = z.ZodType> {
  name: string;
  queue: string;
  payload: P;
  defaultOptions: JobsOptions;
  /**
   * The job's id, from its parsed payload and, where the payload alone does
   * not tell two jobs apart, the occasion its producer names (a webhook's
   * batch or alert notification, a verify's reason). The same id twice is a
   * no-op in BullMQ, so this rule is what makes enqueueing idempotent.
   * Absent (or undefined): BullMQ numbers the job.
   */
  // A method, so that a JobType<specific schema> is still a JobType (registry, flows).
  jobId?(payload: z.output<P>, occasion: string | undefined): string | undefined;
}

/** A job-id rule that needs the producer's occasion: refuses to guess one. */
export function occasionOf(type: string, occasion: string | undefined): string {
  if (!occasion) throw new Error(`a ${type} job needs an occasion for its job id`);
  return occasion;
}

export type JobHandler = (job: Job) => Promise<unknown>;

/**
 * Who caused a job, as its audit rows name them: `key:<8 hex>` (the API key
 * of the authenticated request that enqueued it), `cli` (an operator at the
 * CLI), `scheduler` (a job scheduler Lookout keeps) or `system`. Only
 * Lookout's in-process producers set it (src/producers, src/cli), from the request's principal or their own name:
 * Bull Board cannot add jobs or edit their data (src/board/board-writes.ts),
 * so a job's actor is never typed in by a user. Anything else (a free-form
 * name) is refused when the payload is parsed.
 */
export const jobActor = z.string().regex(/^(key:[0-9a-f]{8}|cli|scheduler|system)$/, {
  error: 'expected key:<8 hex>, cli, scheduler or system: only Lookout sets who caused a job',
});

/** A payload is unknown until parsed: one written by older code fails here, never retried. */
export function parsePayload<P extends z.ZodType>(type: JobType<P>, job: Job): z.infer<P> {
  const parsed = type.payload.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`invalid ${type.name} payload: ${zodIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Whether this run is the job's last try (a failure now is final). */
export function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** How long finished jobs stay in Redis (bounded, so Redis does not grow without end). */
export function keepFinished(completedDays: number, failedDays: number, count: number): Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> {
  return {
    removeOnComplete: { age: completedDays * 24 * 3600, count },
    removeOnFail: { age: failedDays * 24 * 3600, count },
  };
}

/** Retries with exponential backoff: delayMs, 2 x delayMs, 4 x delayMs ... */
export function retrying(attempts: number, delayMs: number): Pick<JobsOptions, 'attempts' | 'backoff'> {
  return { attempts, backoff: { type: 'exponential', delay: delayMs } };
}
