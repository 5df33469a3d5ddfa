// webhook: one signed JSON POST, retried with backoff. The payload names
// which secret signs it; the secret itself never enters Redis.
import { z } from 'zod';
import { keepFinished, occasionOf, retrying, type JobType } from '../job-type.js';

export const NOTIFY_QUEUE = 'notify';

export const webhookPayload = z.object({
  url: z.url(),
  event: z.string().min(1),
  body: z.record(z.string(), z.unknown()),
  signWith: z.enum(['alerts', 'batches']),
});
export type WebhookPayload = z.infer<typeof webhookPayload>;

export const webhook: JobType<typeof webhookPayload> = {
  name: 'webhook',
  queue: NOTIFY_QUEUE,
  payload: webhookPayload,
  defaultOptions: {
    ...retrying(8, 2000),
    ...keepFinished(7, 30, 5000),
  },
  /**
   * The occasion is the batch id (one batch.finished webhook per batch) or an
   * alert notification's dedupe key: sending the same event twice is a no-op.
   */
  jobId: (p, occasion) => `${p.signWith === 'batches' ? 'batch' : 'alert'}_webhook_${occasionOf('webhook', occasion)}`,
};
