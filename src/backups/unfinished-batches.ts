// Batches that clients were answered 202 for and that are not finished yet.
// Replacing the live database loses them (or rewinds them to the backup's
// state), so a replace-live restore refuses while there are any, unless the
// operator says otherwise; then their ids go into the restore's audit row.
import type pg from 'pg';
import { RestoreRefusedError } from './restore-refused.js';

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
  const ids = await db.query<{ id: string }>(
    `SELECT id FROM batches WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT ${MAX_LISTED}`,
  );
  return { queued: n('queued'), running: n('running'), ids: ids.rows.map((r) => r.id) };
}

export const ALLOW_RUNNING_BATCHES_FLAG = '--allow-running-batches';

/**
 * Refuses a replace-live restore while batches are unfinished.
 * @throws RestoreRefusedError naming how many are queued and running, and the way past
 */
export function refuseUnfinished(batches: UnfinishedBatches): void {
  const total = batches.queued + batches.running;
  if (total === 0) return;
  const shown = batches.ids.slice(0, 5).join(', ') + (total > 5 ? ', …' : '');
  throw new RestoreRefusedError(
    `the live database has ${batches.queued} batch(es) queued and ${batches.running} running (${shown}): ` +
      `replacing it would lose work that clients were told was accepted. Wait until they finish (GET /v1/batches), ` +
      `or pass ${ALLOW_RUNNING_BATCHES_FLAG} to replace it anyway (their ids go into the restore's audit row)`,
  );
}
