// /v1/batches: submit a batch (multipart upload), read its status and results.
import { Router } from 'express';
import { z } from 'zod';
import { getBatch } from '../../db/repositories/batches.js';
import { listBatchImages } from '../../db/repositories/images.js';
import { submitBatch } from '../../services/submit-batch.js';
import type { Services } from '../../runtime/services.js';
import { requireRole } from '../authenticate.js';
import { ApiError, badRequest, notFound } from '../http-errors.js';
import { receiveUpload } from '../receive-upload.js';
import { checkWebhookTarget, WebhookTargetError } from '../../security/webhook-target.js';

const uuid = z.uuid();

const submitFields = z
  .object({
    model: z.string().min(1).optional(),
    minScore: z.coerce.number({ error: 'minScore must be a number from 0 to 1' }).min(0).max(1).optional(),
    webhookUrl: z.string().max(2048).optional(),
  })
  .strict();

export function batchesRouter(services: Services): Router {
  const { pool, config, registry } = services;
  const router = Router();

  router.post('/', requireRole('submitter'), async (req, res) => {
    const upload = await receiveUpload(req, services.blobs, {
      maxFileBytes: config.limits.maxBytes,
      maxPixels: config.limits.maxPixels,
      maxFiles: config.upload.maxFiles,
      maxRequestBytes: config.upload.maxRequestBytes,
    });
    const fields = submitFields.safeParse(upload.fields);
    if (!fields.success) throw badRequest(fields.error.issues.map((i) => `${i.path.join('.') || 'field'}: ${i.message}`).join('; '));
    const model = fields.data.model ?? config.detect.model;
    const spec = registry.get(model); // unknown model: 400
    if (!registry.isPresent(model)) {
      throw new ApiError(400, 'model_unavailable', `model "${model}" is not on the server: an operator runs npx lookout models fetch ${model} --accept-license ${spec.license.toLowerCase()}`);
    }
    let webhookUrl: string | undefined;
    if (fields.data.webhookUrl) {
      try {
        webhookUrl = (await checkWebhookTarget(fields.data.webhookUrl, config.webhooks.allowedHosts)).toString();
      } catch (err) {
        if (err instanceof WebhookTargetError) throw new ApiError(400, 'webhook_target_refused', err.message);
        throw err;
      }
    }
    try {
      const batch = await submitBatch(
        { pool, flows: services.flows, prefix: config.queuePrefix },
        { actor: req.principal!.actor, model, minScore: fields.data.minScore ?? spec.defaultMinScore, files: upload.files, ...(webhookUrl ? { webhookUrl } : {}) },
      );
      res.status(202).location(`/v1/batches/${batch.id}`).json(batch);
    } catch (err) {
      if ((err as { queueUnavailable?: boolean }).queueUnavailable) throw new ApiError(503, 'queue_unavailable', (err as Error).message);
      throw err;
    }
  });

  router.get('/:id', async (req, res) => {
    const id = uuid.safeParse(req.params.id);
    const batch = id.success ? await getBatch(pool, id.data) : undefined;
    if (!batch) throw notFound(`batch ${req.params.id}`);
    res.json({ id: batch.id, status: batch.status, progress: batch.progress, createdAt: batch.createdAt, finishedAt: batch.finishedAt });
  });

  router.get('/:id/results', async (req, res) => {
    const id = uuid.safeParse(req.params.id);
    const batch = id.success ? await getBatch(pool, id.data) : undefined;
    if (!batch) throw notFound(`batch ${req.params.id}`);
    const images = await listBatchImages(pool, batch.id);
    res.json({
      id: batch.id,
      status: batch.status,
      images: images.map((img) => ({
        id: img.id,
        filename: img.filename,
        sha256: img.sha256,
        width: img.width,
        height: img.height,
        status: img.status,
        error: img.errorCode ? { code: img.errorCode, message: img.errorMessage } : null,
        detections: img.detections,
      })),
    });
  });

  return router;
}
