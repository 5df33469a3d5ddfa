// A per-process cap on uploads in flight (UPLOADS_IN_FLIGHT_MAX). Each upload
// holds an open connection, a blob write and a temp file for as long as its
// client takes; without a cap a few slow clients within the rate limit could
// hold any number of them. Past the cap an upload is refused at once with
// 503 too_many_uploads and Retry-After, before a byte of it is stored.

import type { Request, Response } from 'express';
import { ApiError } from './http-errors.js';

/** Seconds a refused client is told to wait: about how long a typical upload holds its slot. */
const RETRY_AFTER_SECONDS = 5;

export interface UploadSlots {
  /** Uploads holding a slot now. */
  readonly inFlight: number;
  /**
   * Takes a slot for this request, given back when its response has been
   * sent or its connection closed, whichever comes first.
   * @throws ApiError 503 too_many_uploads (Retry-After set on `res`) when all `max` are taken
   */
  take(req: Request, res: Response): void;
}

/** @param max uploads one process receives at once (a positive integer) */
export function createUploadSlots(max: number): UploadSlots {
  let inFlight = 0;
  return {
    get inFlight() {
      return inFlight;
    },
    take(_req, res) {
      if (inFlight >= max) {
        res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        // The body is not read: the connection goes with the answer.
        res.setHeader('Connection', 'close');
        throw new ApiError(503, 'too_many_uploads', `${max} uploads are already being received by this server; retry in ${RETRY_AFTER_SECONDS} s`);
      }
      inFlight++;
      let given = false;
      const giveBack = () => {
        if (given) return;
        given = true;
        inFlight--;
      };
      res.once('finish', giveBack);
      res.once('close', giveBack);
    },
  };
}
