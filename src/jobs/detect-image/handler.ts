// Runs one image: answered from an earlier identical image when there is one,
// otherwise through the process's detector. Two Postgres round trips per
// image (claim, save); results replace the image's own rows in one
// statement, so retries never duplicate them. Bad images fail
// only themselves, with the error stored and no retry.

import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BlobStore } from '../../blobs/blob-store.js';
import { BlobNotFoundError } from '../../blobs/blob-store.js';
import { claimImage, copyCachedResult, failImage, getImage, saveImageResult } from '../../db/repositories/images.js';
import type { Pool } from '../../db/pool.js';
import { isDetectionError, type Detector } from '../../detection/index.js';
import { isLastAttempt, parsePayload, type JobHandler } from '../job-type.js';
import { detectImage, type DetectImageResult } from './definition.js';

export interface DetectImageDeps {
  pool: Pool;
  blobs: BlobStore;
  detectorFor: (model: string) => Promise<Detector>;
  logger: Logger;
  /** Recorded with every result: which process answered (host:pid). */
  workerId: string;
}

export function createDetectImageHandler(deps: DetectImageDeps): JobHandler {
  const { pool, blobs } = deps;

  async function fail(imageId: string, error: { code: string; message: string }): Promise<never> {
    await failImage(pool, imageId, error, deps.workerId);
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  }

  return async function handleDetectImage(job: Job): Promise<DetectImageResult> {
    const payload = parsePayload(detectImage, job);
    const image = await claimImage(pool, payload.imageId);
    if (!image) {
      if (!(await getImage(pool, payload.imageId))) throw new UnrecoverableError(`image ${payload.imageId} does not exist`);
      // Redelivered after it finished (a stalled job run twice): nothing to do.
      return { imageId: payload.imageId, status: 'skipped', detections: 0, cacheHit: false };
    }
    if (image.earlier) {
      const count = await copyCachedResult(pool, image.id, image.earlier, deps.workerId);
      return { imageId: image.id, status: 'done', detections: count, cacheHit: true };
    }

    let bytes: Buffer;
    try {
      bytes = await blobs.get(payload.blobKey);
    } catch (err) {
      if (err instanceof BlobNotFoundError && isLastAttempt(job)) return fail(image.id, { code: 'blob_missing', message: err.message });
      throw err;
    }
    let result;
    try {
      const detector = await deps.detectorFor(image.model);
      result = await detector.detect(bytes, { minScore: image.minScore });
    } catch (err) {
      if (isDetectionError(err) && (!err.retryable || isLastAttempt(job))) return fail(image.id, { code: err.code, message: err.message });
      if (isLastAttempt(job)) {
        await failImage(pool, image.id, { code: 'detection_failed', message: err instanceof Error ? err.message : String(err) }, deps.workerId);
      }
      throw err;
    }
    await saveImageResult(pool, image.id, result, deps.workerId);
    return { imageId: image.id, status: 'done', detections: result.detections.length, cacheHit: false };
  };
}
