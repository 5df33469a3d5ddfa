// The backup's snapshot: a read-only repeatable-read transaction whose
// snapshot is exported for pg_dump (--snapshot), so the row counts taken in
// it are exactly what the dump holds. The transaction stays open while
// pg_dump reads from it.
import type { PoolClient } from './pool.js';

/** The exported snapshot's id, the database's size (bytes, decimal string), its name and last migration. */
export interface SnapshotFacts {
  snap: string;
  size: string;
  db: string;
  migration: string | null;
}

/** Begins the snapshot transaction on `client` and exports its snapshot. */
export async function beginExportedSnapshot(client: PoolClient): Promise<SnapshotFacts> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await client.query<SnapshotFacts>(
    `SELECT pg_export_snapshot() AS snap, pg_database_size(current_database())::text AS size, current_database() AS db,
              (SELECT max(name) FROM lookout_migrations) AS migration`,
  );
  return rows[0]!;
}

/** Ends the snapshot transaction once pg_dump is done with it. */
export async function commitSnapshot(client: PoolClient): Promise<void> {
  await client.query('COMMIT');
}

/** Ends the snapshot transaction whatever happened (nothing to undo: it only read); never throws. */
export async function releaseSnapshot(client: PoolClient): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined);
}
