// detect-image: one image through the model; a child of its batch's flow.
import { z } from 'zod';
import { laneSchema } from '../../wire/batches.js';
import { keepFinished, retrying, type JobType } from '../job-type.js';

export const detectImagePayload = z.object({
  imageId: z.uuid(),
  blobKey: z.string().regex(/^[0-9a-f]{64}$/),
  model: z.string().min(1),
  /** The batch's lane, for the wait-time metric; absent in jobs queued before lanes (counted as bulk). */
  lane: laneSchema.optional(),
});
export type DetectImagePayload = z.infer<typeof detectImagePayload>;

/** What a run returns (kept by BullMQ for Bull Board; nothing reads it back). */
export interface DetectImageResult {
  imageId: string;
  status: 'done' | 'skipped';
  detections: number;
  cacheHit: boolean;
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
