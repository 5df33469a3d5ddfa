// health-probe: every dependency checked, stored, and alerts evaluated.
import { z } from 'zod';
import type { JobType } from '../job-type.js';

export const HEALTH_QUEUE = 'health';

export const healthProbePayload = z.object({}).passthrough();

export const healthProbe: JobType<typeof healthProbePayload> = {
  name: 'health-probe',
  queue: HEALTH_QUEUE,
  payload: healthProbePayload,
  defaultOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
};
