// alert (email channel): one alert event as an email, through the notify queue.
import { z } from 'zod';
import { keepFinished, retrying, type JobType } from '../job-type.js';
import { NOTIFY_QUEUE } from '../webhook/definition.js';

export const alertEmailPayload = z.object({ alertId: z.uuid(), event: z.enum(['firing', 'repeat', 'resolved']) });

export const alertEmail: JobType<typeof alertEmailPayload, z.ZodObject<{ messageId: z.ZodString }>> = {
  name: 'alert',
  queue: NOTIFY_QUEUE,
  payload: alertEmailPayload,
  result: z.object({ messageId: z.string() }),
  defaultOptions: {
    ...retrying(8, 2000),
    ...keepFinished(7, 30, 5000),
  },
};
