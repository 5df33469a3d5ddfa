// /v1/images: images across batches, newest first and filtered (the failures
// page), and a retry of a selection of failed ones (operator). /v1/images/:id:
// the stored image with its detections drawn (annotated.png), a scaled
// preview (preview.jpg), or the uploaded bytes themselves (original): the
// console draws the boxes over the last two.
import { create as contentDisposition } from 'content-disposition';
import { z } from 'zod';
import { listImages } from '../../db/repositories/image-list.js';
import { retryFailedImages } from '../../producers/retry-images.js';
import { whenRedisReady } from '../../redis/queue-redis.js';
import { imageStatusSchema } from '../../wire/batches.js';
import { imageListSchema, retryImagesBodySchema, retryImagesResultSchema } from '../../wire/images.js';
import { decodeListCursor, encodeListCursor } from '../list-cursor.js';
import { readImageBytes, type ImageBytesSource } from '../../blobs/image-bytes.js';
import { ReferenceRefusedError } from '../../blobs/object-reference.js';
import { getImage, getImageWithDetections, type ImageRecord } from '../../db/repositories/images.js';
import { annotateImage, exifOrientation, previewImage } from '../../detection/index.js';
import { MEDIA_TYPES, sniffImageFormat } from '../../detection/image-format.js';
import type { Services } from '../../runtime/services.js';
import { ApiError, notFound } from '../http-errors.js';
import { route, type ApiRoute } from '../route-spec.js';

const imageId = z.object({ id: z.uuid() });

/** An ISO 8601 date-time with its offset (2025-01-02T03:04:05Z, ...+02:00), as a Date. */
const isoTime = z.iso
  .datetime({ offset: true, error: 'expected an ISO 8601 date-time with its offset, such as 2025-01-02T03:04:05Z (a + sent as %2B)' })
  .transform((text) => new Date(text));

const listQuery = z
  .object({
    status: imageStatusSchema.optional(),
    error: z
      .string()
      .regex(/^[a-z0-9_]{1,64}$/, { error: 'expected an error code such as corrupt_image' })
      .optional()
      .describe('an error code (corrupt_image, unsupported_format, blob_missing, ...): failed images with that error'),
    q: z
      .string()
      .min(3, { error: 'q needs at least 3 characters (the file-name index matches three at a time)' })
      .max(255)
      .optional()
      .describe('part of the file name, at least 3 characters, case-insensitive; % and _ match themselves'),
    model: z.string().min(1).max(200).optional().describe('the model name the images were submitted for'),
    since: isoTime.optional().describe('listed at or after (ISO 8601); the listed time is finishedAt, or createdAt while queued or running'),
    before: isoTime.optional().describe('listed before (ISO 8601)'),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional().describe("the previous page's `next`, with the same filters: the page after it"),
  })
  .strict()
  .refine((q) => !q.since || !q.before || q.since < q.before, { error: 'since must be earlier than before', path: ['since'] });
const previewQuery = z.object({ size: z.coerce.number().int().min(16).max(4096).default(1600).describe('longest side in pixels') }).strict();

/** The image if it is done; 404, or 409 saying why not. */
function finished<T extends ImageRecord>(image: T | undefined, id: string): T {
  if (!image) throw notFound(`image ${id}`);
  if (image.status === 'queued' || image.status === 'running') {
    throw new ApiError(409, 'not_ready', `image ${image.id} is ${image.status}; try again when its batch has finished`);
  }
  if (image.status === 'failed') {
    throw new ApiError(409, 'image_failed', `image ${image.id} failed: ${image.errorCode ?? 'error'}: ${image.errorMessage ?? ''}`);
  }
  return image;
}

/** What every /images/:id route shares. */
const base = { method: 'get', tag: 'images', role: 'viewer', params: imageId, notFound: 'image' } as const;
const NOT_DONE = {
  409: { description: 'Not finished yet (not_ready) or failed (image_failed)' },
  502: { description: 'An image submitted by reference whose object this server may no longer read (object_unreadable)' },
};

export function imagesRoutes(services: Services): ApiRoute[] {
  // Its blob, or (an image submitted by reference) its object in the user's bucket, read when asked for.
  // Its object gone since (404) or no longer readable by this server (502): not the request's fault.
  const bytesOf = (image: ImageBytesSource) =>
    readImageBytes(services, image, services.config.limits.maxBytes).catch((err: unknown) => {
      if (err instanceof ReferenceRefusedError && err.code === 'object_not_found') throw new ApiError(404, 'object_not_found', err.message);
      if (err instanceof ReferenceRefusedError) throw new ApiError(502, err.code, err.message);
      throw err;
    });
  const annotated = route(
    {
      ...base,
      path: '/images/:id/annotated.png',
      operationId: 'getAnnotatedImage',
      summary: 'The image with its detections drawn, as PNG',
      responses: { 200: { description: "PNG at the image's own size", contentType: 'image/png' }, ...NOT_DONE },
    },
    async ({ res, params }) => {
      const image = finished(await getImageWithDetections(services.pool, params.id), params.id);
      const png = await annotateImage(await bytesOf(image), image.detections, services.config.limits);
      res.type('png').set('Cache-Control', 'private, max-age=3600').send(png);
    },
  );

  const preview = route(
    {
      ...base,
      path: '/images/:id/preview.jpg',
      operationId: 'getImagePreview',
      summary: 'The image EXIF-oriented and scaled to fit size x size, as JPEG (no boxes drawn)',
      description: "Boxes from the results are in the pixels of the full image (width x height); scale them by the preview's size.",
      query: previewQuery,
      responses: { 200: { description: 'JPEG', contentType: 'image/jpeg' }, ...NOT_DONE },
    },
    async ({ res, params, query }) => {
      const image = finished(await getImage(services.pool, params.id), params.id);
      const jpeg = await previewImage(await bytesOf(image), query.size, services.config.limits);
      res.type('jpeg').set('Cache-Control', 'private, max-age=3600').send(jpeg);
    },
  );

  const original = route(
    {
      ...base,
      path: '/images/:id/original',
      operationId: 'getOriginalImage',
      summary: 'The uploaded bytes, as uploaded (any status)',
      description:
        'Content-Type from the bytes (they were judged an image at upload). X-Image-Orientation: the EXIF orientation the bytes carry (1..8; 1 when none). Boxes are in the EXIF-oriented frame (width x height), and browsers do not apply the orientation to every format (Chromium leaves WebP as stored) and most cannot show TIFF: where X-Image-Orientation is not 1, or the picture shown is not width x height, draw over preview.jpg, which the server orients.',
      responses: { 200: { description: 'The image file: image/jpeg, image/png, image/webp, image/gif or image/tiff', contentType: 'image/*' } },
    },
    async ({ res, params }) => {
      const image = await getImage(services.pool, params.id);
      if (!image) throw notFound(`image ${params.id}`);
      const bytes = await bytesOf(image);
      const format = sniffImageFormat(bytes.subarray(0, 64));
      res
        .type(format ? MEDIA_TYPES[format] : 'application/octet-stream')
        // An upload is content-addressed (it never changes); a referenced object may be replaced in its bucket.
        .set('Cache-Control', image.blobKey ? 'private, max-age=86400, immutable' : 'private, no-cache')
        .set('X-Image-Orientation', String(await exifOrientation(bytes)))
        // RFC 6266: an ASCII fallback and the exact name as filename*.
        .set('Content-Disposition', contentDisposition(image.filename, { type: 'inline' }))
        .send(bytes);
    },
  );

  const list = route(
    {
      method: 'get',
      path: '/images',
      operationId: 'listImages',
      summary: 'Images across batches, newest first: filter by status, error, file name, model and time',
      description:
        "Newest first by each image's listed time: finishedAt, or createdAt while it is queued or running; ties by id. `since` and `before` are ranges of that time. Pages: pass `next` as `cursor` (with the same filters) for the next page; none when there is no more. Every row comes once while the rows do not change; an image that finishes (or is retried) while you page moves to the front and may be missed.",
      tag: 'images',
      role: 'viewer',
      query: listQuery,
      responses: { 200: { description: 'A page of images', schema: imageListSchema } },
    },
    async ({ res, query }) => {
      // An unreadable cursor: 400 (not a silent first page).
      const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
      const rows = await listImages(services.pool, {
        status: query.status,
        errorCode: query.error,
        filenameContains: query.q,
        model: query.model,
        since: query.since,
        before: query.before,
        after,
        limit: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      res.json({
        images: page.map((r) => ({
          id: r.id,
          batchId: r.batchId,
          filename: r.filename,
          status: r.status,
          error: r.errorCode ? { code: r.errorCode, message: r.errorMessage } : null,
          model: r.model,
          finishedAt: r.finishedAt,
          createdAt: r.createdAt,
        })),
        ...(rows.length > query.limit && last ? { next: encodeListCursor({ listedAt: last.listedAt, id: last.id }) } : {}),
      });
    },
  );

  const retry = route(
    {
      method: 'post',
      path: '/images/retry',
      operationId: 'retryImages',
      summary: 'Retry a selection of failed images, in place, in their own batches',
      description:
        "Each failed image of a finished batch runs again as itself; its batch is running again until they have, then finishes again (status, audit, webhook). Retried work takes its API key's fair share, at the front of its line. Every other id is reported in `skipped` with its reason. Audited: one batch.retry row per batch.",
      tag: 'images',
      role: 'operator',
      body: retryImagesBodySchema,
      responses: {
        200: { description: 'What was retried and what was not', schema: retryImagesResultSchema },
        503: { description: 'The queues (Redis) did not answer; nothing was retried (queue_unavailable)' },
      },
    },
    async ({ req, res, body }) => {
      await whenRedisReady(services.redis);
      const result = await retryFailedImages(
        { pool: services.pool, queues: services.queues, flows: services.flows, prefix: services.config.queuePrefix },
        { actor: req.principal!.actor, ids: body.ids },
      );
      res.json(result);
    },
  );

  return [list, retry, annotated, preview, original];
}
