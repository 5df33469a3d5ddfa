// Runs one image: answered from an earlier identical image when there is one,
// otherwise through the process's detector. Two Postgres round trips per
// image (claim, save); results replace the image's own rows in one
// statement, so retries never duplicate them. Bad images fail
// only themselves, with the error stored and no retry.

import { UnrecoverableError, type Job } from 'bullmq';
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../blobs/blob-store.js';
import { BlobNotFoundError, BlobTooLargeError } from '../../blobs/blob-store.js';
import { readImageBytes } from '../../blobs/image-bytes.js';
import { ReferenceRefusedError } from '../../blobs/object-reference.js';
import { claimImage, copyCachedResult, failImage, getImage, recordReadBytes, saveImageResult, type EarlierAnswer } from '../../db/repositories/images.js';
import type { Pool } from '../../db/pool.js';
import { formatDevice, isDetectionError, type DetectionResult, type Detector } from '../../detection/index.js';
import type { Metrics } from '../../metrics/metrics.js';
import { annotateSpan, recordStages, type StageSpan } from '../../tracing/spans.js';
import { isLastAttempt, parsePayload, type JobHandler } from '../job-type.js';
import { detectImage, type DetectImageResult } from './definition.js';

export interface DetectImageDeps {
  pool: Pool;
  blobs: BlobStore;
  /** The process's S3 client, made on first use: reads images submitted by reference. */
  s3: () => S3Client;
  /** IMAGE_MAX_BYTES: a referenced object larger than this (it may have grown since the submit) fails the image. */
  maxImageBytes: number;
  detectorFor: (model: string) => Promise<Detector>;
  /** Recorded with every result: which process answered (host:pid). */
  workerId: string;
  metrics?: Metrics;
  /** MAX_DETECTIONS_PER_IMAGE: the best-scoring detections an image keeps. */
  maxDetectionsPerImage: number;
}

export function createDetectImageHandler(deps: DetectImageDeps): JobHandler {
  const { pool } = deps;

  async function fail(imageId: string, error: { code: string; message: string }): Promise<never> {
    await failImage(pool, imageId, error, deps.workerId);
    deps.metrics?.images.inc({ outcome: 'failed' });
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  }

  /**
   * Answers `imageId` with `earlier`'s detections (same bytes, model and threshold), or undefined
   * when there is none or it was pruned since it was found: then the model runs.
   */
  async function answerFromCache(imageId: string, earlier: EarlierAnswer | undefined): Promise<DetectImageResult | undefined> {
    const copied = earlier && (await copyCachedResult(pool, imageId, earlier, deps.workerId));
    if (copied === undefined) return undefined;
    deps.metrics?.images.inc({ outcome: 'cache_hit' });
    annotateSpan({ 'lookout.cache_hit': true, 'lookout.detections.count': copied });
    return { imageId, status: 'done', detections: copied, cacheHit: true };
  }

  return async function handleDetectImage(job: Job): Promise<DetectImageResult> {
    const payload = parsePayload(detectImage, job);
    // Queued to first start (a retry's wait is its backoff, not the queue's).
    if (job.attemptsMade === 0 && job.processedOn)
      deps.metrics?.detectWait.observe({ lane: payload.lane ?? 'bulk' }, Math.max(0, job.processedOn - job.timestamp) / 1000);
    annotateSpan({ 'lookout.image.id': payload.imageId, 'lookout.model.name': payload.model });
    const image = await claimImage(pool, payload.imageId);
    if (!image) {
      if (!(await getImage(pool, payload.imageId))) throw new UnrecoverableError(`image ${payload.imageId} does not exist`);
      // Redelivered after it finished (a stalled job run twice): nothing to do.
      return { imageId: payload.imageId, status: 'skipped', detections: 0, cacheHit: false };
    }
    annotateSpan({ 'lookout.batch.id': image.batchId, 'lookout.model.name': image.model });
    const cached = await answerFromCache(image.id, image.earlier);
    if (cached) return cached;

    let bytes: Buffer;
    const readStarted = performance.now();
    try {
      bytes = await readImageBytes(deps, { blobKey: payload.blobKey ?? null, sourceUrl: payload.sourceUrl ?? null }, deps.maxImageBytes);
    } catch (err) {
      if (err instanceof BlobNotFoundError && isLastAttempt(job)) return fail(image.id, { code: 'blob_missing', message: err.message });
      // A referenced object gone (perhaps for a moment) retries like a missing blob; unreadable or too large fails at once.
      if (err instanceof ReferenceRefusedError && (err.code !== 'object_not_found' || isLastAttempt(job)))
        return fail(image.id, { code: err.code, message: err.message });
      if (err instanceof BlobTooLargeError) return fail(image.id, { code: 'too_large', message: `the referenced object has grown past ${err.maxBytes} bytes` });
      // Anything else (the store away, a 5xx, an unexpected 4xx) retries; the last attempt fails the image, so its batch ends.
      if (isLastAttempt(job)) return fail(image.id, { code: 'read_failed', message: `could not read the image's bytes: ${(err as Error).message}` });
      throw err;
    }
    if (payload.sourceUrl) {
      // By reference: the sha256 that answers from the cache is known only now (computed here, on the worker).
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const readCached = await answerFromCache(image.id, await recordReadBytes(pool, image.id, sha256, bytes.length));
      if (readCached) return readCached;
    }
    const readEnded = performance.now();
    const readMs = readEnded - readStarted;
    let result;
    let detector: Detector;
    let detectStarted = 0;
    try {
      detector = await deps.detectorFor(image.model);
      annotateSpan({ 'lookout.device': formatDevice(detector.device), 'lookout.model.version': detector.model.version });
      detectStarted = performance.now();
      result = await detector.detect(bytes, { minScore: image.minScore, maxDetections: deps.maxDetectionsPerImage });
    } catch (err) {
      if (isDetectionError(err) && (!err.retryable || isLastAttempt(job))) return fail(image.id, { code: err.code, message: err.message });
      if (isLastAttempt(job)) {
        await failImage(pool, image.id, { code: 'detection_failed', message: err instanceof Error ? err.message : String(err) }, deps.workerId);
        deps.metrics?.images.inc({ outcome: 'failed' });
      }
      throw err;
    }
    observeStages(deps.metrics, detector, readMs, result.timings);
    recordStages(stageSpans({ start: readStarted, end: readEnded, bytes: bytes.length }, { start: detectStarted, end: performance.now() }, result.timings));
    annotateSpan({ 'lookout.detections.count': result.detections.length });
    await saveImageResult(pool, image.id, result, deps.workerId);
    deps.metrics?.images.inc({ outcome: 'done' });
    return { imageId: image.id, status: 'done', detections: result.detections.length, cacheHit: false };
  };
}

function observeStages(metrics: Metrics | undefined, detector: Detector, readMs: number, t: DetectionResult['timings']): void {
  if (!metrics) return;
  const labels = { model: detector.model.name, device: formatDevice(detector.device) };
  metrics.detectStage.observe({ ...labels, stage: 'decode' }, (readMs + t.decodeMs) / 1000);
  metrics.detectStage.observe({ ...labels, stage: 'preprocess' }, t.preprocessMs / 1000);
  metrics.detectStage.observe({ ...labels, stage: 'inference' }, t.inferenceMs / 1000);
  metrics.detectStage.observe({ ...labels, stage: 'postprocess' }, t.postprocessMs / 1000);
}

/**
 * The spans of an image's stages, children of its detect-image span: `read`
 * (its bytes from the blob store or its bucket, as timed), then the
 * detector's call laid out from its timings: `decode` (format check and
 * header) and `preprocess` from the call's start, `postprocess` ending at its
 * end, and `inference` between them, which is the wait for a micro-batch slot
 * plus the run; `lookout.inference.share_ms` is this image's share of that
 * run, the value lookout_detect_stage_seconds{stage="inference"} observes.
 */
function stageSpans(read: { start: number; end: number; bytes: number }, call: { start: number; end: number }, t: DetectionResult['timings']): StageSpan[] {
  const decodeEnd = call.start + t.decodeMs;
  const preprocessEnd = decodeEnd + t.preprocessMs;
  const postprocessStart = Math.max(preprocessEnd, call.end - t.postprocessMs);
  return [
    { name: 'read', start: read.start, end: read.end, attributes: { 'lookout.image.bytes': read.bytes } },
    { name: 'decode', start: call.start, end: decodeEnd },
    { name: 'preprocess', start: decodeEnd, end: preprocessEnd },
    { name: 'inference', start: preprocessEnd, end: postprocessStart, attributes: { 'lookout.inference.share_ms': t.inferenceMs } },
    { name: 'postprocess', start: postprocessStart, end: call.end },
  ];
}
