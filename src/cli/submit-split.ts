// Splits the images of one `lookout submit` into upload requests the server
// accepts: at most maxFiles files and at most maxRequestBytes bytes of body
// each. The body is built here byte for byte (submit-multipart-stream.ts), so
// its size is computed exactly, multipart framing included, rather than
// guessed with a margin. Order is kept: request 1 holds the first images.

import type { InfoLimits } from '../wire/info.js';

/** The limits of GET /v1/info that a request's size depends on. */
export type RequestLimits = Pick<InfoLimits, 'maxFiles' | 'maxRequestBytes'>;

export interface PlannedRequest<T> {
  files: T[];
  /** The exact body length. */
  bytes: number;
}

export interface SplitPlan<T> {
  requests: Array<PlannedRequest<T>>;
  /** Files that would not fit in a request even alone. */
  tooLarge: T[];
}

/**
 * @param baseBytes a request's bytes without files (fields, closing boundary)
 * @param partBytes the bytes one file adds (part header, content, CRLF)
 */
export function splitIntoRequests<T>(files: T[], limits: RequestLimits, baseBytes: number, partBytes: (file: T) => number): SplitPlan<T> {
  const plan: SplitPlan<T> = { requests: [], tooLarge: [] };
  let current: PlannedRequest<T> = { files: [], bytes: baseBytes };
  for (const file of files) {
    const bytes = partBytes(file);
    if (baseBytes + bytes > limits.maxRequestBytes) {
      plan.tooLarge.push(file);
      continue;
    }
    if (current.files.length >= limits.maxFiles || current.bytes + bytes > limits.maxRequestBytes) {
      plan.requests.push(current);
      current = { files: [], bytes: baseBytes };
    }
    current.files.push(file);
    current.bytes += bytes;
  }
  if (current.files.length > 0) plan.requests.push(current);
  return plan;
}
