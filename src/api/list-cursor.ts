// The cursor of GET /v1/images's pages: the last row's listed time, to the
// microsecond, and its id, base64url-encoded. Opaque to clients; an
// unreadable one is a bad request, never a silent first page.
import { badRequest } from './http-errors.js';

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z) ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export interface ListPosition {
  /** UTC, microseconds: 2025-01-02T03:04:05.123456Z. */
  listedAt: string;
  id: string;
}

/** The cursor of the page after the row at `position`. */
export function encodeListCursor(position: ListPosition): string {
  return Buffer.from(`${position.listedAt} ${position.id}`, 'utf8').toString('base64url');
}

/**
 * The position a cursor names.
 * @throws ApiError 400 invalid_cursor when it is not one encodeListCursor made
 */
export function decodeListCursor(cursor: string): ListPosition {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !isRealInstant(match[1]!)) throw badRequest('cursor: not a cursor this server gave (pass `next` as it came)', 'invalid_cursor');
  return { listedAt: match[1]!, id: match[2]! };
}

/**
 * Whether `iso` (the CURSOR form) names a time that exists: Date.parse takes
 * 2026-02-30 or 24:00 and rolls them over, where Postgres refuses them, so
 * the time must read back as written (to the millisecond; the microseconds
 * are digits either way).
 */
function isRealInstant(iso: string): boolean {
  const ms = Date.parse(iso);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 23) === iso.slice(0, 23);
}
