// Batches that clients were answered 202 for and that are not finished yet:
// what a replace-live restore refuses over (src/backups/unfinished-batches.ts).
import type pg from 'pg';

/** How many batches are queued and running, and the ids of the oldest (at most `MAX_LISTED`). */
export interface UnfinishedBatches {
  queued: number;
  running: number;
  ids: string[];
}

const MAX_LISTED = 100;

/** Counts the queued and running batches of the database `db` is connected to. */
export async function unfinishedBatches(db: pg.ClientBase | pg.Pool): Promise<UnfinishedBatches> {
  const counts = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM batches WHERE status IN ('queued', 'running') GROUP BY status`,
  );
  const n = (status: string) => counts.rows.find((r) => r.status === status)?.n ?? 0;
  const ids = await db.query<{ id: string }>(`SELECT id FROM batches WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT ${MAX_LISTED}`);
  return { queued: n('queued'), running: n('running'), ids: ids.rows.map((r) => r.id) };
}
