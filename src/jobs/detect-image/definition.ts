// detect-image: one image through the model; a child of its batch's flow.
import { z } from 'zod';
import { laneSchema } from '../../wire/batches.js';
import { keepFinished, retrying, type JobType } from '../job-type.js';

export const detectImagePayload = z
  .object({
    imageId: z.uuid(),
    /** An uploaded image: its blob. */
    blobKey: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /** An image submitted by reference: its s3://BUCKET/KEY, read by the worker from the user's bucket. */
    sourceUrl: z.string().startsWith('s3://').max(1100).optional(),
    model: z.string().min(1),
    /** The batch's lane, for the wait-time metric; absent in jobs queued before lanes (counted as bulk). */
    lane: laneSchema.optional(),
  })
  .refine((p) => (p.blobKey === undefined) !== (p.sourceUrl === undefined), { error: 'expected exactly one of blobKey and sourceUrl' });
export type DetectImagePayload = z.infer<typeof detectImagePayload>;

/** What a run returns (kept by BullMQ for Bull Board; nothing reads it back). */
export interface DetectImageResult {
  imageId: string;
  status: 'done' | 'skipped';
  detections: number;
  cacheHit: boolean;
}

/** The payload's field for where an image's bytes are: its blob, or the object it names. */
export function bytesSource(image: { blobKey: string | null; sourceUrl: string | null }): { blobKey: string } | { sourceUrl: string } {
  return image.blobKey ? { blobKey: image.blobKey } : { sourceUrl: image.sourceUrl! };
}

/** Job id per image: enqueuing the same image twice is a no-op in BullMQ. */
export const detectImageJobId = (imageId: string): string => `img_${imageId}`;

export const detectImage: JobType<typeof detectImagePayload> = {
  name: 'detect-image',
  queue: 'detect',
  payload: detectImagePayload,
  defaultOptions: {
    // Transient failures (Postgres or the blob volume blinking) retry with
    // 1 s, 2 s, 4 s ... 256 s (about 8.5 minutes in all: a database restart
    // or failover fits); bad images fail at once (UnrecoverableError).
    ...retrying(10, 1000),
    // A failed image must not hold its batch back: the parent still runs.
    ignoreDependencyOnFailure: true,
    ...keepFinished(1, 7, 10_000),
  },
  jobId: (p) => detectImageJobId(p.imageId),
};
