// Submit by reference (issue 18): an image given as s3://BUCKET/KEY is read
// by the worker straight from the user's bucket, never copied into the blob
// store. Its row keeps the URL (source_url) and no blob key; its sha256 is
// known once a worker has read it (NULL until then). Every image has one of
// the two.
import type { Migration } from './migration.js';

export const imagesByReference: Migration = {
  name: '0010-images-by-reference',
  async up(db) {
    await db.query(`
      ALTER TABLE images
        ADD COLUMN source_url text,
        ALTER COLUMN sha256 DROP NOT NULL,
        ALTER COLUMN blob_key DROP NOT NULL,
        ADD CONSTRAINT images_blob_or_source CHECK (blob_key IS NOT NULL OR source_url IS NOT NULL)
    `);
  },
  async down(db) {
    await db.query(`DELETE FROM images WHERE blob_key IS NULL`);
    await db.query(`
      ALTER TABLE images
        DROP CONSTRAINT images_blob_or_source,
        DROP COLUMN source_url,
        ALTER COLUMN blob_key SET NOT NULL
    `);
    await db.query(`UPDATE images SET sha256 = '' WHERE sha256 IS NULL`);
    await db.query(`ALTER TABLE images ALTER COLUMN sha256 SET NOT NULL`);
  },
};
