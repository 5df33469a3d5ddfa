// detect-image: one image through the model; a child of its batch's flow.
import { z } from 'zod';
import { keepFinished, retrying, type JobType } from '../job-type.js';

export const detectImagePayload = z.object({
  imageId: z.uuid(),
  blobKey: z.string().regex(/^[0-9a-f]{64}$/),
  model: z.string().min(1),
});
export type DetectImagePayload = z.infer<typeof detectImagePayload>;

export const detectImageResult = z.object({
  imageId: z.uuid(),
  status: z.enum(['done', 'skipped']),
  detections: z.number().int(),
  cacheHit: z.boolean(),
});
export type DetectImageResult = z.infer<typeof detectImageResult>;

export const detectImage: JobType<typeof detectImagePayload, typeof detectImageResult> = {
  name: 'detect-image',
  queue: 'detect',
  payload: detectImagePayload,
  result: detectImageResult,
  defaultOptions: {
    // Transient failures (Postgres or the blob volume blinking) retry with
    // 1 s, 2 s, 4 s ... 256 s (about 8.5 minutes in all: a database restart
    // or failover fits); bad images fail at once (UnrecoverableError).
    ...retrying(10, 1000),
    // A failed image must not hold its batch back: the parent still runs.
    ignoreDependencyOnFailure: true,
    ...keepFinished(1, 7, 10_000),
  },
};

/** Job id per image: enqueuing the same image twice is a no-op in BullMQ. */
export const detectImageJobId = (imageId: string): string => `img_${imageId}`;
