// The unfinished batches of a key, by lane: read on every small submit (how
// many images a key has in the interactive lane already) and on every
// /metrics scrape (images waiting per key). Partial: finished batches, the
// bulk of the table, are not in it.
import type { Migration } from './migration.js';

export const unfinishedBatchesByKey: Migration = {
  name: '0008-unfinished-batches-by-key',
  async up(db) {
    await db.query(`CREATE INDEX batches_unfinished_by_key ON batches (key_id, lane) WHERE status IN ('queued', 'running')`);
  },
  async down(db) {
    await db.query('DROP INDEX batches_unfinished_by_key');
  },
};
