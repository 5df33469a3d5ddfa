// The /v1/images answers and the bodies the console sends there, defined once
// (see batches.ts): images across batches (GET /v1/images) and a retry of a
// selection of failed ones (POST /v1/images/retry).
import { z } from 'zod';
import { imageStatusSchema } from './batches.js';
import type { Json } from './json.js';

export const imageErrorSchema = z.object({ code: z.string(), message: z.string().nullable() });

/** One of GET /v1/images's `images`. */
export const imageListItemSchema = z.object({
  id: z.uuid(),
  batchId: z.uuid(),
  filename: z.string(),
  status: imageStatusSchema,
  error: imageErrorSchema.nullable().describe('set when status is failed'),
  model: z.string().describe('the model name the image was submitted for'),
  finishedAt: z.date().nullable().describe('null while queued or running'),
  createdAt: z.date().describe('when its batch was submitted'),
});

/** GET /v1/images: a page, newest first. */
export const imageListSchema = z.object({
  images: z.array(imageListItemSchema),
  next: z.string().optional().describe('present when there may be more: pass it as `cursor`, with the same filters, for the next page'),
});

/** The most ids one POST /v1/images/retry takes. */
export const RETRY_MAX_IDS = 1000;

/** POST /v1/images/retry's body. */
export const retryImagesBodySchema = z
  .object({
    ids: z
      .array(z.uuid())
      .min(1)
      .max(RETRY_MAX_IDS)
      .describe(`image ids (at most ${RETRY_MAX_IDS}); only those whose status is failed are retried, the others are reported as skipped`),
  })
  .strict();

/** Why an image of a retry was not put back on the queue. */
export const RETRY_SKIP_REASONS = ['not_found', 'not_failed', 'batch_unfinished', 'job_live', 'queue_unavailable'] as const;
export type RetrySkipReason = (typeof RETRY_SKIP_REASONS)[number];

/** POST /v1/images/retry's answer. */
export const retryImagesResultSchema = z.object({
  retried: z.array(z.object({ id: z.uuid(), batchId: z.uuid() })).describe('queued again, in their own batch (which is running again)'),
  skipped: z
    .array(
      z.object({
        id: z.string(),
        reason: z
          .enum(RETRY_SKIP_REASONS)
          .describe(
            'not_found: no such image; not_failed: its status is not failed; batch_unfinished: its batch is still queued or running (retry once it has finished); job_live: its job is on the queue already; queue_unavailable: Redis did not take it (nothing changed for it)',
          ),
        message: z.string(),
      }),
    )
    .describe('left as they were'),
});

export type ImageListItem = Json<z.infer<typeof imageListItemSchema>>;
export type ImageList = Json<z.infer<typeof imageListSchema>>;
export type RetryImagesBody = z.infer<typeof retryImagesBodySchema>;
export type RetryImagesResult = z.infer<typeof retryImagesResultSchema>;
