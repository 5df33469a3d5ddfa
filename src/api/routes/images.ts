// /v1/images/:id/annotated.png: the stored image with its detections drawn.
import { Router } from 'express';
import { z } from 'zod';
import { getImageWithDetections } from '../../db/repositories/images.js';
import { annotateImage } from '../../detection/index.js';
import type { Services } from '../../runtime/services.js';
import { ApiError, notFound } from '../http-errors.js';

export function imagesRouter(services: Services): Router {
  const router = Router();
  router.get('/:id/annotated.png', async (req, res) => {
    const id = z.uuid().safeParse(req.params.id);
    const image = id.success ? await getImageWithDetections(services.pool, id.data) : undefined;
    if (!image) throw notFound(`image ${req.params.id}`);
    if (image.status === 'queued' || image.status === 'running') {
      throw new ApiError(409, 'not_ready', `image ${image.id} is ${image.status}; try again when its batch has finished`);
    }
    if (image.status === 'failed') {
      throw new ApiError(409, 'image_failed', `image ${image.id} failed: ${image.errorCode ?? 'error'}: ${image.errorMessage ?? ''}`);
    }
    const png = await annotateImage(await services.blobs.get(image.blobKey), image.detections, services.config.limits);
    res.type('png').set('Cache-Control', 'private, max-age=3600').send(png);
  });
  return router;
}
