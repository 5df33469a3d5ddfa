// Retention (issue 18): `lookout prune` finds finished batches by their
// finish time, and asks, for each blob it might delete, whether any image row
// still uses it. Without these indexes both are a scan of the whole table per
// chunk of a prune, and of the images table per orphan page.
import type { Migration } from './migration.js';

export const retentionIndexes: Migration = {
  name: '0009-retention-indexes',
  async up(db) {
    await db.query(`
      CREATE INDEX images_blob_key ON images (blob_key);
      CREATE INDEX batches_finished_at ON batches (finished_at);
    `);
  },
  async down(db) {
    await db.query('DROP INDEX batches_finished_at; DROP INDEX images_blob_key');
  },
};
