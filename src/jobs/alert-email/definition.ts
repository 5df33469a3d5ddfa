// alert (email channel): one alert event as an email, through the notify queue.
import { z } from 'zod';
import { keepFinished, occasionOf, retrying, type JobType } from '../job-type.js';
import { NOTIFY_QUEUE } from '../webhook/definition.js';

export const alertEmailPayload = z.object({ alertId: z.uuid(), event: z.enum(['firing', 'repeat', 'resolved']) });

export const alertEmail: JobType<typeof alertEmailPayload> = {
  name: 'alert',
  queue: NOTIFY_QUEUE,
  payload: alertEmailPayload,
  defaultOptions: {
    ...retrying(8, 2000),
    ...keepFinished(7, 30, 5000),
  },
  /** The occasion is the notification's dedupe key (src/producers/alert-notifications.ts): a repeated dispatch is a no-op. */
  jobId: (_p, occasion) => `alert_email_${occasionOf('alert', occasion)}`,
};
