// /v1/images/:id: the stored image with its detections drawn (annotated.png),
// or a scaled preview for the console to draw over (preview.jpg).
import { z } from 'zod';
import { getImageWithDetections, type ImageWithDetections } from '../../db/repositories/images.js';
import { annotateImage, previewImage } from '../../detection/index.js';
import type { Services } from '../../runtime/services.js';
import { ApiError, notFound } from '../http-errors.js';
import { route, type ApiRoute } from '../route-spec.js';

const imageId = z.object({ id: z.uuid() });
const previewQuery = z.object({ size: z.coerce.number().int().min(16).max(4096).default(1600).describe('longest side in pixels') }).strict();

function finished(image: ImageWithDetections | undefined, id: string): ImageWithDetections {
  if (!image) throw notFound(`image ${id}`);
  if (image.status === 'queued' || image.status === 'running') {
    throw new ApiError(409, 'not_ready', `image ${image.id} is ${image.status}; try again when its batch has finished`);
  }
  if (image.status === 'failed') {
    throw new ApiError(409, 'image_failed', `image ${image.id} failed: ${image.errorCode ?? 'error'}: ${image.errorMessage ?? ''}`);
  }
  return image;
}

export function imagesRoutes(services: Services): ApiRoute[] {
  const annotated = route(
    {
      method: 'get',
      path: '/images/:id/annotated.png',
      operationId: 'getAnnotatedImage',
      summary: 'The image with its detections drawn, as PNG',
      tag: 'images',
      role: 'viewer',
      params: imageId,
      notFound: 'image',
      responses: { 200: { description: 'PNG at the image\'s own size', contentType: 'image/png' }, 409: { description: 'Not finished yet (not_ready) or failed (image_failed)' } },
    },
    async ({ res, params }) => {
      const image = finished(await getImageWithDetections(services.pool, params.id), params.id);
      const png = await annotateImage(await services.blobs.get(image.blobKey), image.detections, services.config.limits);
      res.type('png').set('Cache-Control', 'private, max-age=3600').send(png);
    },
  );

  const preview = route(
    {
      method: 'get',
      path: '/images/:id/preview.jpg',
      operationId: 'getImagePreview',
      summary: 'The image EXIF-oriented and scaled to fit size x size, as JPEG (no boxes drawn)',
      description: 'Boxes from the results are in the pixels of the full image (width x height); scale them by the preview\'s size.',
      tag: 'images',
      role: 'viewer',
      params: imageId,
      notFound: 'image',
      query: previewQuery,
      responses: { 200: { description: 'JPEG', contentType: 'image/jpeg' }, 409: { description: 'Not finished yet (not_ready) or failed (image_failed)' } },
    },
    async ({ res, params, query }) => {
      const image = finished(await getImageWithDetections(services.pool, params.id), params.id);
      const jpeg = await previewImage(await services.blobs.get(image.blobKey), query.size, services.config.limits);
      res.type('jpeg').set('Cache-Control', 'private, max-age=3600').send(jpeg);
    },
  );

  return [annotated, preview];
}
