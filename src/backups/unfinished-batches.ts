// Batches that clients were answered 202 for and that are not finished yet.
// Replacing the live database loses them (or rewinds them to the backup's
// state), so a replace-live restore refuses while there are any, unless the
// operator says otherwise; then their ids go into the restore's audit row.
// Counting them is src/db/repositories/unfinished-batches.ts.
import type { UnfinishedBatches } from '../db/repositories/unfinished-batches.js';
import { RestoreRefusedError } from './restore-refused.js';

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
