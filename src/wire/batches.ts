// The /v1/batches answers, defined once: the API describes them with these
// schemas (/openapi.json), `lookout submit` parses the server's answers with
// schemas derived from them, and the console types its calls with `Json<>` of
// their types. Dates are z.date(): the handlers pass rows through, and JSON
// carries them as ISO 8601 strings (see json.ts).
import { z } from 'zod';
import { BATCH_STATUSES, IMAGE_STATUSES } from './batch-status.js';
import type { Json } from './json.js';

export const batchStatusSchema = z.enum(BATCH_STATUSES);
export const imageStatusSchema = z.enum(IMAGE_STATUSES);

/** The lane a batch was queued in (README, "Scheduling"). */
export const LANES = ['interactive', 'bulk'] as const;
export type Lane = (typeof LANES)[number];
export const laneSchema = z
  .enum(LANES)
  .describe('interactive: at most INTERACTIVE_MAX_IMAGES images, run ahead of bulk work; bulk: shares the workers fairly with the other API keys');

export const progressSchema = z.object({ total: z.int(), done: z.int(), failed: z.int() });

/** 202 to POST /v1/batches. */
export const submittedBatchSchema = z.object({
  id: z.uuid(),
  images: z.array(
    z.object({
      id: z.uuid(),
      filename: z.string(),
      sha256: z.string().nullable().describe('null for an image submitted by reference: the worker computes it when it reads the object'),
      bytes: z.int(),
      source: z.string().optional().describe('the s3://BUCKET/KEY of an image submitted by reference'),
    }),
  ),
});

/** GET /v1/batches/:id. */
export const batchViewSchema = z.object({
  id: z.uuid(),
  status: batchStatusSchema,
  progress: progressSchema,
  createdAt: z.date(),
  finishedAt: z.date().nullable(),
  lane: laneSchema,
  position: z
    .int()
    .nullable()
    .describe(
      'Approximate: how many images of other batches are queued ahead of this batch\'s next waiting image (0: it runs as soon as a worker slot frees). null when none of its images waits (finished, all running or retrying) or the queue is unreachable. README, "Scheduling"',
    ),
});

/** One of GET /v1/batches's `batches` (no position: that is read from the queue, one batch at a time). */
export const batchListItemSchema = batchViewSchema.omit({ position: true }).extend({
  model: z.string(),
  createdBy: z.string().describe('who submitted it: key:<id> (an API key), or cli'),
  createdByName: z.string().nullable().describe('the name of the API key that submitted it; null when it was not a key, or the key was deleted since'),
  detections: z.int().describe('how many detections its images have so far'),
});
/** GET /v1/batches: a page of batches. */
export const batchListSchema = z.object({ batches: z.array(batchListItemSchema) });

export const detectionSchema = z.object({
  label: z.string(),
  score: z.number(),
  box: z.object({ x1: z.number(), y1: z.number(), x2: z.number(), y2: z.number() }).describe('in EXIF-oriented image pixels'),
  keypoints: z.array(z.tuple([z.number(), z.number()])).optional(),
});

/** The model file that answered an image. */
export const imageModelSchema = z.object({ name: z.string(), version: z.string().nullable(), sha256: z.string().nullable() });

export const imageResultSchema = z.object({
  id: z.uuid(),
  filename: z.string(),
  sha256: z.string().nullable().describe('null for an image submitted by reference until a worker has read it'),
  source: z.string().optional().describe('the s3://BUCKET/KEY of an image submitted by reference'),
  width: z.int().nullable(),
  height: z.int().nullable(),
  model: imageModelSchema.describe('version and sha256 of the model file that answered; null until done'),
  status: imageStatusSchema,
  error: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
  detections: z.array(detectionSchema),
});

/** GET /v1/batches/:id/results. */
export const batchResultsSchema = z.object({
  id: z.uuid(),
  status: batchStatusSchema,
  images: z.array(imageResultSchema),
});

/**
 * POST /v1/batches/:id/rerun's body, as a type: its schema is the route's
 * (src/api/routes/batches.ts), where the minScore grammar of src/text lives.
 */
export interface RerunBody {
  /** Default: the batch's own model. */
  model?: string;
  /** A decimal from 0 to 1; default: the batch's own when the model is the batch's, else the model's default. */
  minScore?: number;
}

/** 202 to POST /v1/batches/:id/rerun: the new batch. */
export const rerunBatchSchema = z.object({ id: z.uuid() });

/** DELETE /v1/batches/:id: what went. */
export const deletedBatchSchema = z.object({
  id: z.uuid(),
  images: z.int(),
  detections: z.int(),
  blobs: z
    .object({
      removed: z.int(),
      bytes: z.int().describe('of the blobs removed'),
      kept: z.int().describe("the batch's blobs other batches' images still use"),
      failed: z.int().describe('deletes the store refused: left for the orphan sweep of a later prune'),
    })
    .describe("the uploaded images' blobs; objects submitted by reference are never deleted"),
});

export type Progress = z.infer<typeof progressSchema>;
export type SubmittedBatch = z.infer<typeof submittedBatchSchema>;
export type BatchView = Json<z.infer<typeof batchViewSchema>>;
export type BatchListItem = Json<z.infer<typeof batchListItemSchema>>;
export type BatchList = Json<z.infer<typeof batchListSchema>>;
export type Detection = z.infer<typeof detectionSchema>;
export type ImageResult = z.infer<typeof imageResultSchema>;
export type BatchResults = z.infer<typeof batchResultsSchema>;
export type DeletedBatch = z.infer<typeof deletedBatchSchema>;
