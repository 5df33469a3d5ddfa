// The /v1/queues answers and the queue actions, defined once (see batches.ts).
import { z } from 'zod';

/** POST /v1/queues/:name/:action's actions; `lookout queues` has a subcommand for each. */
export const QUEUE_ACTIONS = ['pause', 'resume', 'retry-failed', 'clean'] as const;
export type QueueAction = (typeof QUEUE_ACTIONS)[number];
/** The finished jobs `clean` removes. */
export const CLEAN_STATES = ['completed', 'failed'] as const;
export type CleanState = (typeof CLEAN_STATES)[number];

/** The BullMQ job states GET /v1/queues counts, and the `state` label of the lookout_queue_jobs metric. */
export const JOB_COUNT_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children', 'paused', 'prioritized'] as const;

export const queueActionSchema = z.enum(QUEUE_ACTIONS);
/** The most a queue's global concurrency may be set to (a sanity bound, far above any fleet's slots). */
export const GLOBAL_CONCURRENCY_MAX = 10_000;

/** One of GET /v1/queues's `queues`: jobs per BullMQ state. */
export const queueViewSchema = z.object({
  name: z.string(),
  paused: z.boolean(),
  counts: z.record(z.string(), z.int()),
  globalConcurrency: z
    .int()
    .nullable()
    .describe("jobs of this queue active at once across the fleet (BullMQ's global concurrency); null: unset, only each worker's --concurrency bounds it"),
});
/** GET /v1/queues. */
export const queueListSchema = z.object({ queues: z.array(queueViewSchema) });
/** POST /v1/queues/:name/:action. */
export const queueControlResultSchema = z.object({ queue: z.string(), action: queueActionSchema, affected: z.int() });

/** PUT /v1/queues/:name/concurrency's body; null removes the limit. */
export const globalConcurrencyBodySchema = z
  .object({
    concurrency: z.int().min(1).max(GLOBAL_CONCURRENCY_MAX).nullable().describe('jobs of this queue active at once across all workers; null removes the limit'),
  })
  .strict();
/** PUT /v1/queues/:name/concurrency and `lookout queues concurrency`: the value before and after. */
export const globalConcurrencyResultSchema = z.object({ queue: z.string(), previous: z.int().nullable(), concurrency: z.int().nullable() });

export type QueueView = z.infer<typeof queueViewSchema>;
export type QueueList = z.infer<typeof queueListSchema>;
export type QueueControlResult = z.infer<typeof queueControlResultSchema>;
export type GlobalConcurrencyBody = z.infer<typeof globalConcurrencyBodySchema>;
export type GlobalConcurrencyResult = z.infer<typeof globalConcurrencyResultSchema>;
