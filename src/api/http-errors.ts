// Typed API errors and the one place they map to HTTP: every error body is
// {"error": {"code", "message"}}; unexpected errors are logged and answered 500
// without internals.

import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { KeyNoLongerValidError } from '../auth/api-keys.js';
import { BlobTooLargeError } from '../blobs/blob-store.js';
import { isDetectionError, type DetectionErrorCode } from '../detection/index.js';
import { isQueueUnavailable } from '../redis/queue-redis.js';
import { BackupsDisabledError, BackupUnusableError } from '../producers/backup-requests.js';
import { UnknownQueueError } from '../board/queue-control.js';
import { WebhookTargetError } from '../security/webhook-target.js';
import { ObjectStoreUnavailableError, ReferenceRefusedError } from '../blobs/object-reference.js';
import { RerunBlobsGoneError } from '../producers/rerun-batch.js';
import { BatchUnfinishedError } from '../retention/delete-batch.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, code = 'bad_request') => new ApiError(400, code, message);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

const DETECTION_STATUS: Partial<Record<DetectionErrorCode, number>> = {
  unsupported_format: 415,
  too_large: 413,
  too_many_pixels: 413,
  unknown_model: 400,
  model_unavailable: 400,
  corrupt_image: 422,
  empty_input: 400,
};

export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof KeyNoLongerValidError) return new ApiError(401, 'unauthorized', err.message);
  if (err instanceof BackupsDisabledError) return new ApiError(503, 'backups_disabled', err.message);
  if (err instanceof BackupUnusableError) return new ApiError(409, 'backup_unusable', err.message);
  if (err instanceof UnknownQueueError) return notFound(`queue ${err.queue}`);
  if (err instanceof RerunBlobsGoneError) return new ApiError(409, 'images_gone', err.message);
  if (err instanceof BatchUnfinishedError) return new ApiError(409, 'batch_unfinished', err.message);
  if (err instanceof WebhookTargetError) return new ApiError(400, 'webhook_target_refused', err.message);
  // Submit by reference: a bucket not listed is forbidden to everyone; a bad URL, a missing or unreadable object is the request's fault.
  if (err instanceof ObjectStoreUnavailableError) return new ApiError(503, 'object_store_unavailable', err.message);
  if (err instanceof ReferenceRefusedError) {
    return new ApiError(err.code === 'bucket_not_allowed' ? 403 : err.code === 'too_large' ? 413 : 400, err.code, err.message);
  }
  if (err instanceof BlobTooLargeError) return new ApiError(413, 'too_large', `a file is larger than the limit of ${err.maxBytes} bytes`);
  if (isDetectionError(err)) return new ApiError(DETECTION_STATUS[err.code] ?? 500, err.code, err.message);
  // Redis's address and error stay in the logs, not in the answer.
  if (isQueueUnavailable(err))
    return new ApiError(503, 'queue_unavailable', 'the queues are not reachable (Redis does not answer); nothing was done; retry later');
  const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  if (status === 413) return new ApiError(413, 'too_large', 'request body too large');
  if (status === 400) return new ApiError(400, 'bad_request', 'malformed request');
  return undefined;
}

export function sendError(res: Response, err: ApiError): void {
  res.status(err.status).json({ error: { code: err.code, message: err.message } });
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = toApiError(err);
    if (known) return sendError(res, known);
    logger.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
    sendError(res, new ApiError(500, 'internal_error', 'internal error'));
  };
}
