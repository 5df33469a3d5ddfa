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
/** One of GET /v1/queues's `queues`: jobs per BullMQ state. */
export const queueViewSchema = z.object({ name: z.string(), paused: z.boolean(), counts: z.record(z.string(), z.int()) });
/** GET /v1/queues. */
export const queueListSchema = z.object({ queues: z.array(queueViewSchema) });
/** POST /v1/queues/:name/:action. */
export const queueControlResultSchema = z.object({ queue: z.string(), action: queueActionSchema, affected: z.int() });

export type QueueView = z.infer<typeof queueViewSchema>;
export type QueueList = z.infer<typeof queueListSchema>;
export type QueueControlResult = z.infer<typeof queueControlResultSchema>;
