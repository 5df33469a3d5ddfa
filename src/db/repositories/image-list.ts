// Images across batches (GET /v1/images), newest first, a page at a time.
// "Newest" is the image's listed time: when it finished, or, while it is
// queued or running, when it was submitted (coalesce(finished_at,
// created_at)); ties by id. Pages are keyset pages on (listed time, id), read
// through migration 0012's indexes in that order, so a page costs the rows it
// returns (and those its filters pass over), never a sort of the table. The
// listed time goes into the cursor with its microseconds: rows in the same
// millisecond are neither repeated nor skipped.
import type { ImageStatus } from '../../wire/batch-status.js';
import type { Queryable } from '../pool.js';

/** The listed time of an image: the index expression of migration 0012 (kept identical, or the indexes go unused). */
const LISTED_AT = 'coalesce(i.finished_at, i.created_at)';

export interface ImageListFilter {
  status?: ImageStatus;
  /** An error code (failed images). */
  errorCode?: string;
  /** A substring of the file name, case-insensitive (LIKE wildcards in it are matched as themselves). */
  filenameContains?: string;
  model?: string;
  /** Listed at or after. */
  since?: Date;
  /** Listed before. */
  before?: Date;
  /** Only rows after this one in the order (the previous page's last): its listed time (text, microseconds) and id. */
  after?: { listedAt: string; id: string };
  limit: number;
}

export interface ListedImage {
  id: string;
  batchId: string;
  filename: string;
  status: ImageStatus;
  errorCode: string | null;
  errorMessage: string | null;
  model: string;
  finishedAt: Date | null;
  createdAt: Date;
  /** Its listed time as UTC text to the microsecond (2025-01-02T03:04:05.123456Z), for a cursor. */
  listedAt: string;
}

/** `text` with LIKE's wildcards (% and _) and its escape (\) escaped, to match as itself. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * A page of images, newest first (see above), at most `limit`. Only the
 * filters given are part of the statement, so each combination is planned
 * for the index that serves it.
 */
export async function listImages(db: Queryable, filter: ImageListFilter): Promise<ListedImage[]> {
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where: string[] = [];
  if (filter.status !== undefined) where.push(`i.status = ${p(filter.status)}`);
  if (filter.errorCode !== undefined) where.push(`i.error_code = ${p(filter.errorCode)}`);
  if (filter.filenameContains !== undefined) where.push(`i.filename ILIKE ${p(`%${escapeLike(filter.filenameContains)}%`)} ESCAPE '\\'`);
  if (filter.model !== undefined) where.push(`i.model = ${p(filter.model)}`);
  if (filter.since !== undefined) where.push(`${LISTED_AT} >= ${p(filter.since)}`);
  if (filter.before !== undefined) where.push(`${LISTED_AT} < ${p(filter.before)}`);
  if (filter.after !== undefined) where.push(`(${LISTED_AT}, i.id) < (${p(filter.after.listedAt)}::timestamptz, ${p(filter.after.id)}::uuid)`);
  const { rows } = await db.query<ListedImage>(
    `SELECT i.id, i.batch_id AS "batchId", i.filename, i.status, i.error_code AS "errorCode", i.error_message AS "errorMessage",
            i.model, i.finished_at AS "finishedAt", i.created_at AS "createdAt",
            to_char(${LISTED_AT} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "listedAt"
       FROM images i
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${LISTED_AT} DESC, i.id DESC
      LIMIT ${p(filter.limit)}`,
    params,
  );
  return rows;
}
