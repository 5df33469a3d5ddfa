// Which blobs image rows use, and the lock that keeps a blob from being
// removed between its upload and the insert of the rows that use it. Blobs
// are content-addressed and shared (the same bytes uploaded twice are one
// blob), so a blob is removed only when no image row references it.
//
// Every removal is remembered in blob_removals for a day, numbered in the
// order removals happen (the lock serialises them). A submit reads the last
// number before it stores anything (blobRemovalMark) and, when it inserts its
// rows, asks whether any of its blobs was removed after that
// (blobsRemovedSince): one query for the whole batch instead of asking the
// blob store about each blob.
import type { Queryable } from '../pool.js';

const BLOB_REMOVAL_LOCK = 0x626c6f62; // 'blob'

/**
 * In the transaction that inserts image rows: waits for a removal under way and
 * holds off new ones until commit. Shared: submits never wait for each other.
 */
export async function holdBlobRemovals(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock_shared($1)', [BLOB_REMOVAL_LOCK]);
}

/** In the transaction that removes blobs: waits for inserts under way and holds off new ones until commit. */
export async function lockForBlobRemoval(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [BLOB_REMOVAL_LOCK]);
}

/** The keys among `keys` (distinct) that no image row references. */
export async function unreferencedBlobKeys(db: Queryable, keys: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>(
    'SELECT k.key FROM unnest($1::text[]) AS k(key) WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.blob_key = k.key)',
    [[...new Set(keys)]],
  );
  return rows.map((r) => r.key);
}

/** How long removals are remembered: a submit whose request took longer asks the blob store instead. */
export const BLOB_REMOVALS_KEPT_MS = 24 * 60 * 60 * 1000;

/** Where a submit began, among blob removals: the last removal committed then, and the time (the database's clock). */
export interface BlobRemovalMark {
  seq: string;
  at: Date;
}

/**
 * Read before a submit stores its first blob. A removal committed before it
 * deleted its blobs before the upload wrote them again; one committed later
 * has a greater seq (removals are serialised by the blob-removal lock and
 * number themselves under it).
 */
export async function blobRemovalMark(db: Queryable): Promise<BlobRemovalMark> {
  const { rows } = await db.query<{ seq: string; at: Date }>('SELECT coalesce(max(seq), 0)::text AS seq, now() AS at FROM blob_removals');
  return rows[0]!;
}

/**
 * Under holdBlobRemovals: those of `keys` removed after `mark`, or null when
 * the mark is older than removals are kept (BLOB_REMOVALS_KEPT_MS; the caller
 * then asks the blob store).
 */
export async function blobsRemovedSince(db: Queryable, mark: BlobRemovalMark, keys: readonly string[]): Promise<string[] | null> {
  const { rows } = await db.query<{ key: string | null; expired: boolean }>(
    `SELECT r.key, $3::timestamptz < now() - $4 * interval '1 millisecond' AS expired
       FROM (SELECT 1) AS one
       LEFT JOIN (SELECT DISTINCT key FROM blob_removals WHERE seq > $1::bigint AND key = ANY($2::text[])) AS r ON true`,
    [mark.seq, [...new Set(keys)], mark.at, BLOB_REMOVALS_KEPT_MS],
  );
  if (rows[0]!.expired) return null;
  return rows.flatMap((r) => (r.key === null ? [] : [r.key]));
}

/**
 * Under lockForBlobRemoval, before the blobs are deleted: remembers `keys` as
 * removed now, and forgets removals older than BLOB_REMOVALS_KEPT_MS.
 */
export async function recordBlobRemovals(db: Queryable, keys: readonly string[]): Promise<void> {
  await db.query(`DELETE FROM blob_removals WHERE removed_at < now() - $1 * interval '1 millisecond'`, [BLOB_REMOVALS_KEPT_MS]);
  if (keys.length > 0) await db.query('INSERT INTO blob_removals (key) SELECT unnest($1::text[])', [[...new Set(keys)]]);
}
