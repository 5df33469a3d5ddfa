// Blob removals, remembered for a day (issue 18): a submit asks, with one
// query, whether a blob it uploaded was removed while its request was being
// received, instead of asking the blob store about every blob (a HEAD per
// image on S3). Numbered in the order removals happen (they are serialised
// by the blob-removal lock), so "after this submit began" is `seq > mark`.
import type { Migration } from './migration.js';

export const blobRemovals: Migration = {
  name: '0013-blob-removals',
  async up(db) {
    await db.query(`
      CREATE TABLE blob_removals (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key text NOT NULL,
        removed_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX blob_removals_key ON blob_removals (key, seq);
      CREATE INDEX blob_removals_removed_at ON blob_removals (removed_at);
    `);
  },
  async down(db) {
    await db.query('DROP TABLE blob_removals');
  },
};
