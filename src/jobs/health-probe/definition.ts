// health-probe: every dependency checked, stored, and alerts evaluated.
import { z } from 'zod';
import type { JobType } from '../job-type.js';

export const HEALTH_QUEUE = 'health';

export const healthProbePayload = z.object({}).passthrough();

export const healthProbe: JobType<typeof healthProbePayload, z.ZodObject<{ status: z.ZodString; notifications: z.ZodNumber }>> = {
  name: 'health-probe',
  queue: HEALTH_QUEUE,
  payload: healthProbePayload,
  result: z.object({ status: z.string(), notifications: z.number() }),
  defaultOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
};
