// /v1/batches: submit a batch (multipart upload or by reference), list
// batches, read one's status and results (JSON or CSV), re-run one over the
// same images, delete a finished one.
import { create as contentDisposition } from 'content-disposition';
import pLimit from 'p-limit';
import { z } from 'zod';
import { getBatch, listBatches } from '../../db/repositories/batches.js';
import { blobRemovalMark, type BlobRemovalMark } from '../../db/repositories/blob-references.js';
import { listBatchImages, queuedImageIds } from '../../db/repositories/images.js';
import { isQueueUnavailable, whenRedisReady } from '../../redis/queue-redis.js';
import { imagesAhead } from '../../producers/fair-share.js';
import { headReference, parseS3Url, ReferenceRefusedError, s3Url } from '../../blobs/object-reference.js';
import { detectImage } from '../../jobs/detect-image/definition.js';
import { isFinished } from '../../wire/batch-status.js';
import { discardUploadedBlobs, submitBatch, type SubmitBatchInput } from '../../producers/submit-batch.js';
import { rerunFiles } from '../../producers/rerun-batch.js';
import { deleteBatchAndBlobs } from '../../retention/delete-batch.js';
import { batchResultsCsv, batchResultsFilename } from '../batch-results-csv.js';
import type { Services } from '../../runtime/services.js';
import { ApiError, badRequest, notFound } from '../http-errors.js';
import { receiveUpload } from '../receive-upload.js';
import { createUploadSlots } from '../upload-slots.js';
import { checkWebhookTarget } from '../../security/webhook-target.js';
import { route, type ApiRoute } from '../route-spec.js';
import { zodIssues } from '../../text/zod-issues.js';
import { minScoreSchema } from '../../text/min-score.js';
import type { Request, RequestHandler } from 'express';
import {
  batchListSchema,
  batchResultsSchema,
  batchStatusSchema,
  batchViewSchema,
  deletedBatchSchema,
  rerunBatchSchema,
  submittedBatchSchema,
} from '../../wire/batches.js';

const submitFields = z
  .object({
    model: z.string().min(1).optional().describe("model name (GET /v1/info lists them); default: the server's DETECT_MODEL"),
    minScore: minScoreSchema,
    webhookUrl: z.string().max(2048).optional().describe('https URL told when the batch finishes (HMAC-signed)'),
  })
  .strict();

/** POST /v1/batches with Content-Type application/json: images by reference (objects in SUBMIT_S3_BUCKETS). */
const referenceBody = z
  .object({
    images: z
      .array(
        z
          .object({
            url: z.string().min(1).max(1100).describe('s3://BUCKET/KEY of an object in a bucket SUBMIT_S3_BUCKETS lists'),
            filename: z.string().min(1).max(255).optional().describe("default: the key's last segment"),
          })
          .strict(),
      )
      .min(1),
  })
  .extend(submitFields.shape)
  .strict();

/** How many HeadObject requests one submit by reference has in flight at once. */
const HEAD_CONCURRENCY = 16;

const batchId = z.object({ id: z.uuid() });

const resultsQuery = z
  .object({
    format: z
      .enum(['json', 'csv'])
      .default('json')
      .describe('csv: one record per detection, and one per image with none or with an error (columns in the README); default json'),
  })
  .strict();

/** POST /v1/batches/:id/rerun's body: another model or threshold for the same images. */
const rerunBody = z
  .object({
    model: z.string().min(1).optional().describe("model name (GET /v1/info lists them); default: the batch's own model"),
    minScore: minScoreSchema.describe("minimum score, a decimal from 0 to 1; default: the batch's own when the model is the batch's, else the model's default"),
  })
  .strict();

/** How many of a batch's queued images GET /v1/batches/:id looks up on the queue for its position. */
const POSITION_LOOKAHEAD = 64;

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.coerce.date().optional().describe('createdAt of the last batch of the previous page'),
    status: batchStatusSchema.optional(),
    mine: z.enum(['true', 'false']).optional().describe('true: only batches submitted with this key'),
  })
  .strict();

export function batchesRoutes(services: Services, uploadLimit: RequestHandler): ApiRoute[] {
  const { pool, config, registry } = services;
  const uploadSlots = createUploadSlots(config.upload.maxInFlight);

  const submit = route(
    {
      method: 'post',
      path: '/batches',
      operationId: 'submitBatch',
      summary: 'Submit a batch of images',
      description:
        'One request, one batch: each `images` file becomes one detection job. Files are judged images by their first bytes and held to the limits GET /v1/info lists.',
      tag: 'batches',
      role: 'submitter',
      before: [uploadLimit],
      multipart: {
        schema: submitFields,
        files: { field: 'images', description: 'JPEG, PNG, WebP, GIF or TIFF files (judged by their bytes)' },
        json: referenceBody.describe(
          'Images by reference, instead of uploaded: each url names an object (s3://BUCKET/KEY) in a bucket SUBMIT_S3_BUCKETS lists. The server checks each with HeadObject (there, readable, at most IMAGE_MAX_BYTES) and never reads its bytes; workers read them from the bucket. Such objects are never deleted (prune leaves them).',
        ),
      },
      responses: {
        202: { description: 'Accepted; Location is the batch', schema: submittedBatchSchema },
        408: { description: 'No byte arrived for UPLOAD_IDLE_TIMEOUT_MS; the connection is closed (upload_timeout)' },
        413: {
          description:
            'A file, the request, the file, field or part count is over its limit (too_large, too_many_files, too_many_fields, too_many_parts, too_many_pixels)',
        },
        403: { description: 'A referenced bucket is not in SUBMIT_S3_BUCKETS, or the key is inside the blob store (bucket_not_allowed)' },
        415: { description: 'A file is not a supported image (unsupported_format)' },
        503: {
          description:
            'The queue is unreachable; nothing was kept (queue_unavailable); or UPLOADS_IN_FLIGHT_MAX uploads are already being received, with Retry-After (too_many_uploads); or (by reference) the S3 endpoint did not answer a HeadObject as expected (object_store_unavailable)',
        },
      },
    },
    async ({ req, res }) => {
      if (req.is('application/json')) {
        const batch = await acceptReferences(req);
        res.status(202).location(`/v1/batches/${batch.id}`).json(batch);
        return;
      }
      // Too many uploads in flight in this process: 503 at once, nothing read.
      uploadSlots.take(req, res);
      // Redis away: 503 before a byte of the body is stored (and again in
      // submitBatch, should it go away during the upload).
      await whenRedisReady(services.redis);
      // A request refused after some of its files were stored (bad field,
      // unknown model, refused webhook, cut off, Redis gone) leaves none of
      // them behind.
      const storedKeys: string[] = [];
      // Blob removals after this point refuse the submit if they took one of its blobs (submitBatch).
      const removalMark = await blobRemovalMark(pool);
      const batch = await acceptBatch(req, removalMark, (key) => storedKeys.push(key)).catch(async (err: unknown) => {
        await discardUploadedBlobs({ pool, blobs: services.blobs }, storedKeys);
        throw err;
      });
      res.status(202).location(`/v1/batches/${batch.id}`).json(batch);
    },
  );

  /**
   * A batch by reference: the body parsed, every bucket allowed, every object
   * checked with HeadObject (never read), then submitted as uploads are.
   * @throws ApiError 400 (body, url, object missing or unreadable), 403
   *   (bucket not allowed), 413 (object too large, too many images)
   */
  async function acceptReferences(req: Request) {
    const parsed = referenceBody.safeParse(req.body);
    if (!parsed.success) throw badRequest(zodIssues(parsed.error, 'body'));
    const body = parsed.data;
    if (body.images.length > config.upload.maxFiles) {
      throw new ApiError(413, 'too_many_files', `at most ${config.upload.maxFiles} images a batch (UPLOAD_MAX_FILES); got ${body.images.length}`);
    }
    const refs = body.images.map((img, i) => allowedReference(img.url, `images[${i}]`));
    const checked = await checkSubmitFields(body);
    const sizes = await headReferences(refs);
    return submitAs(
      req,
      checked,
      // No blobs of the store's own: nothing a removal could take.
      await blobRemovalMark(pool),
      refs.map((ref, i) => ({
        filename: body.images[i]!.filename ?? (ref.key.split('/').filter(Boolean).pop() || 'image'),
        sha256: null,
        bytes: sizes[i]!,
        blobKey: null,
        sourceUrl: s3Url(ref),
      })),
    );
  }

  /**
   * An s3:// URL parsed and allowed: in a bucket SUBMIT_S3_BUCKETS lists, not inside the blob store.
   * @throws ReferenceRefusedError invalid_reference (400), bucket_not_allowed (403)
   */
  function allowedReference(url: string, where: string) {
    const ref = parseS3Url(url); // ReferenceRefusedError invalid_reference: 400
    if (!config.submitS3Buckets.includes(ref.bucket)) {
      throw new ReferenceRefusedError(
        'bucket_not_allowed',
        config.submitS3Buckets.length === 0
          ? 'this server takes no images by reference (SUBMIT_S3_BUCKETS is empty): upload them'
          : `${where}: bucket "${ref.bucket}" is not one this server reads from (SUBMIT_S3_BUCKETS)`,
      );
    }
    // The blob store's own objects are Lookout's, swept and deleted by retention: never the user's.
    if (config.blobs.store === 's3' && ref.bucket === config.blobs.bucket && ref.key.startsWith(config.blobs.prefix)) {
      throw new ReferenceRefusedError('bucket_not_allowed', `${where}: ${s3Url(ref)} is inside the blob store (S3_BUCKET, S3_PREFIX): name objects outside it`);
    }
    return ref;
  }

  /** Each object's size from HeadObject (there, readable, at most IMAGE_MAX_BYTES), HEAD_CONCURRENCY at once; never its bytes. */
  function headReferences(refs: ReturnType<typeof parseS3Url>[]): Promise<number[]> {
    const limit = pLimit(HEAD_CONCURRENCY);
    return Promise.all(refs.map((ref) => limit(() => headReference(services.s3(), ref, config.limits.maxBytes))));
  }

  /** Submits a checked batch as the request's key (submitBatch: rows, then the flow; audited); `rerunOf`: a re-run's source batch. */
  function submitAs(
    req: Request,
    fields: { model: string; minScore: number; webhookUrl?: string },
    removalMark: BlobRemovalMark,
    files: SubmitBatchInput['files'],
    rerunOf?: string,
  ) {
    // Redis away: QueueUnavailableError, answered 503 queue_unavailable (http-errors.ts).
    return submitBatch(
      { pool, flows: services.flows, blobs: services.blobs, prefix: config.queuePrefix, interactiveMaxImages: config.interactiveMaxImages },
      { actor: req.principal!.actor, keyId: req.principal!.keyId, ...fields, files, removalMark, ...(rerunOf ? { rerunOf } : {}) },
    );
  }

  /** The model (present on this server), the threshold and the webhook target of a submit, checked. */
  async function checkSubmitFields(fields: z.infer<typeof submitFields>): Promise<{ model: string; minScore: number; webhookUrl?: string }> {
    const model = fields.model ?? config.detect.model;
    const spec = registry.get(model); // unknown model: 400
    if (!registry.isPresent(model)) {
      throw new ApiError(
        400,
        'model_unavailable',
        `model "${model}" is not on the server: an operator runs npx lookout models fetch ${model} --accept-license ${spec.license.toLowerCase()}`,
      );
    }
    // A refused target: WebhookTargetError, answered 400 webhook_target_refused (http-errors.ts).
    const webhookUrl = fields.webhookUrl ? (await checkWebhookTarget(fields.webhookUrl, config.webhooks.allowedHosts)).toString() : undefined;
    return { model, minScore: fields.minScore ?? spec.defaultMinScore, ...(webhookUrl ? { webhookUrl } : {}) };
  }

  /** Receives the upload, checks its fields and submits the batch; `onStored` hears each blob stored. */
  async function acceptBatch(req: Request, removalMark: BlobRemovalMark, onStored: (blobKey: string) => void) {
    const upload = await receiveUpload(
      req,
      services.blobs,
      {
        maxFileBytes: config.limits.maxBytes,
        maxPixels: config.limits.maxPixels,
        maxFiles: config.upload.maxFiles,
        maxRequestBytes: config.upload.maxRequestBytes,
        idleTimeoutMs: config.upload.idleTimeoutMs,
      },
      onStored,
    );
    const fields = submitFields.safeParse(upload.fields);
    if (!fields.success) throw badRequest(zodIssues(fields.error, 'field'));
    return submitAs(req, await checkSubmitFields(fields.data), removalMark, upload.files);
  }

  const list = route(
    {
      method: 'get',
      path: '/batches',
      operationId: 'listBatches',
      summary: 'List batches, newest first',
      tag: 'batches',
      role: 'viewer',
      query: listQuery,
      responses: { 200: { description: 'A page of batches', schema: batchListSchema } },
    },
    async ({ req, res, query }) => {
      const batches = await listBatches(pool, {
        limit: query.limit,
        before: query.before,
        status: query.status,
        createdBy: query.mine === 'true' ? req.principal!.actor : undefined,
      });
      res.json({ batches });
    },
  );

  const get = route(
    {
      method: 'get',
      path: '/batches/:id',
      operationId: 'getBatch',
      summary: "A batch's status and progress",
      tag: 'batches',
      role: 'viewer',
      params: batchId,
      notFound: 'batch',
      responses: { 200: { description: 'The batch', schema: batchViewSchema } },
    },
    async ({ res, params }) => {
      const batch = await getBatch(pool, params.id);
      if (!batch) throw notFound(`batch ${params.id}`);
      const position = isFinished(batch.status) ? null : await positionOf(batch.id);
      res.json({
        id: batch.id,
        status: batch.status,
        progress: batch.progress,
        createdAt: batch.createdAt,
        finishedAt: batch.finishedAt,
        lane: batch.lane,
        position,
      });
    },
  );

  /** Images of other batches ahead of the batch's next waiting one (fair-share.ts imagesAhead); null while Redis is away. */
  async function positionOf(id: string): Promise<number | null> {
    // The first images by position hold the batch's lowest priority; a few more cover those running or retrying.
    const waiting = await queuedImageIds(pool, id, POSITION_LOOKAHEAD);
    return imagesAhead(services.queues.get(detectImage.queue)!, waiting).catch((err: unknown) => {
      if (isQueueUnavailable(err)) return null;
      throw err;
    });
  }

  const getResults = route(
    {
      method: 'get',
      path: '/batches/:id/results',
      operationId: 'getBatchResults',
      summary: 'Every image of a batch with its detections or error',
      description:
        'JSON by default. `format=csv`: a download (Content-Disposition: attachment), one record per detection and one per image with no detection or with an error; columns batch, image_id, filename, model, label, score, x1, y1, x2, y2, error_code, error_message, status (RFC 4180, CRLF; text a spreadsheet would run as a formula, starting with = + - @, begins with an apostrophe).',
      tag: 'batches',
      role: 'viewer',
      params: batchId,
      notFound: 'batch',
      query: resultsQuery,
      responses: { 200: { description: 'The results so far', schema: batchResultsSchema, alsoAs: ['text/csv'] } },
    },
    async ({ res, params, query }) => {
      const batch = await getBatch(pool, params.id);
      if (!batch) throw notFound(`batch ${params.id}`);
      const images = await listBatchImages(pool, batch.id);
      if (query.format === 'csv') {
        res
          .type('text/csv; charset=utf-8')
          .set('Content-Disposition', contentDisposition(batchResultsFilename(batch.id), { type: 'attachment' }))
          .send(batchResultsCsv(batch.id, images));
        return;
      }
      res.json({
        id: batch.id,
        status: batch.status,
        images: images.map((img) => ({
          id: img.id,
          filename: img.filename,
          sha256: img.sha256,
          ...(img.sourceUrl ? { source: img.sourceUrl } : {}),
          width: img.width,
          height: img.height,
          model: { name: img.model, version: img.modelVersion, sha256: img.modelSha256 },
          status: img.status,
          error: img.errorCode ? { code: img.errorCode, message: img.errorMessage } : null,
          detections: img.detections,
        })),
      });
    },
  );

  const rerun = route(
    {
      method: 'post',
      path: '/batches/:id/rerun',
      operationId: 'rerunBatch',
      summary: 'Run a batch again over the same images, perhaps with another model or threshold',
      description:
        "A new batch of the same images, nothing uploaded again: each uploaded image by its stored blob, each image submitted by reference by its s3:// URL (checked again as a submit checks it). The cache rules hold: an image whose bytes, model and threshold were answered before is answered from that answer. Any batch may be re-run, finished or not; the new one is the caller's.",
      tag: 'batches',
      role: 'submitter',
      params: batchId,
      body: rerunBody,
      before: [uploadLimit],
      responses: {
        202: { description: 'Accepted; Location is the new batch', schema: rerunBatchSchema },
        403: { description: "An image's bucket is no longer in SUBMIT_S3_BUCKETS (bucket_not_allowed)" },
        409: { description: "Some of the batch's uploaded images are no longer stored (their blobs were removed): images_gone, naming them" },
        503: { description: 'The queue is unreachable; nothing was kept (queue_unavailable)' },
      },
    },
    async ({ req, res, params, body }) => {
      const source = await getBatch(pool, params.id);
      if (!source) throw notFound(`batch ${params.id}`);
      await whenRedisReady(services.redis);
      const model = body.model ?? source.model;
      // An unknown model or one not on the server: 400, as a submit answers.
      const fields = await checkSubmitFields({ model, minScore: body.minScore ?? (model === source.model ? source.minScore : undefined) });
      // Read before the blob keys are: a removal of one of them after this refuses the submit (submitBatch).
      const removalMark = await blobRemovalMark(pool);
      // A blob gone: RerunBlobsGoneError, answered 409 images_gone (http-errors.ts).
      const files = await rerunFiles({ pool, blobs: services.blobs }, source.id);
      const references = files.flatMap((f, i) => (f.sourceUrl ? [{ i, ref: allowedReference(f.sourceUrl, `image ${f.filename}`) }] : []));
      const sizes = await headReferences(references.map((r) => r.ref));
      references.forEach((r, n) => (files[r.i]!.bytes = sizes[n]!));
      const batch = await submitAs(req, fields, removalMark, files, source.id);
      res.status(202).location(`/v1/batches/${batch.id}`).json({ id: batch.id });
    },
  );

  const remove = route(
    {
      method: 'delete',
      path: '/batches/:id',
      operationId: 'deleteBatch',
      summary: 'Delete a finished batch, its images, detections and blobs',
      description:
        "Only a finished batch (completed, completed_with_errors or failed, no image queued or running). Its uploaded images' blobs are removed unless another batch's images use them; objects submitted by reference are never deleted. Audited (batch.delete).",
      tag: 'batches',
      role: 'operator',
      params: batchId,
      responses: {
        200: { description: 'Deleted: what went', schema: deletedBatchSchema },
        409: { description: 'The batch is queued or running, or one of its images is (batch_unfinished); nothing was deleted' },
      },
    },
    async ({ req, res, params }) => {
      // Not finished: BatchUnfinishedError, answered 409 batch_unfinished (http-errors.ts).
      const deleted = await deleteBatchAndBlobs({ pool, blobs: services.blobs, logger: services.logger }, params.id, req.principal!.actor);
      if (!deleted) throw notFound(`batch ${params.id}`);
      res.json(deleted);
    },
  );

  return [submit, list, get, getResults, rerun, remove];
}
