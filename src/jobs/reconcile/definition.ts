// reconcile: the reconciler as a scheduled job on the health queue.
import { z } from 'zod';
import type { JobType } from '../job-type.js';
import { HEALTH_QUEUE } from '../health-probe/definition.js';

export const reconcilePayload = z.object({ dryRun: z.boolean().optional() }).passthrough();

export const reconcileJob: JobType<typeof reconcilePayload> = {
  name: 'reconcile',
  queue: HEALTH_QUEUE,
  payload: reconcilePayload,
  defaultOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
};
