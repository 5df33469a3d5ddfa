// Scheduling (issue 17): the lane a batch was queued in (GET /v1/batches/:id
// shows it), and the API key that submitted it: its fair share, which the
// reconciler needs when it puts lost images back. Batches from before have
// no key (their creator's name stands in) and count as bulk.
import type { Migration } from './migration.js';

export const batchLane: Migration = {
  name: '0007-batch-lane',
  async up(db) {
    await db.query(`
      ALTER TABLE batches
        ADD COLUMN lane text NOT NULL DEFAULT 'bulk' CHECK (lane IN ('interactive', 'bulk')),
        ADD COLUMN key_id text
    `);
  },
  async down(db) {
    await db.query('ALTER TABLE batches DROP COLUMN lane, DROP COLUMN key_id');
  },
};
