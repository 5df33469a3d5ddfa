// Which blobs image rows use, and the lock that keeps a blob from being
// removed between its upload and the insert of the rows that use it. Blobs
// are content-addressed and shared (the same bytes uploaded twice are one
// blob), so a blob is removed only when no image row references it.
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
