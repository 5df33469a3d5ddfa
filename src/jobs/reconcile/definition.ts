// reconcile: the reconciler as a scheduled job on the health queue.
import { z } from 'zod';
import type { JobType } from '../job-type.js';
import { HEALTH_QUEUE } from '../health-probe/definition.js';

export const reconcilePayload = z.object({ dryRun: z.boolean().optional() }).passthrough();
export const reconcileResult = z.object({ requeuedImages: z.number(), finalisedBatches: z.number(), restoredSchedulers: z.number(), dryRun: z.boolean() });

export const reconcileJob: JobType<typeof reconcilePayload, typeof reconcileResult> = {
  name: 'reconcile',
  queue: HEALTH_QUEUE,
  payload: reconcilePayload,
  result: reconcileResult,
  defaultOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
};
