// Images across batches (issue 19, GET /v1/images): newest first by
// coalesce(finished_at, created_at), then id, with keyset paging. Without
// these indexes every page is a sort of the whole images table.
//
// - images_listed: every image in that order (no status filter; since,
//   before and the cursor are ranges of it).
// - images_listed_by_status: the same per status (status=failed: the
//   failures page).
// - images_listed_by_error: failed images by error code, in that order; partial
//   (only rows with an error), so it stays as small as the failures.
// - images_listed_by_model: the same per model (model=...: without it, a
//   model with few images is a walk through the whole table: 0.26 s at 2
//   million rows for one with none, docs/benchmarks.md).
// - images_listed_failed_by_model: failed images by model, in that order
//   (status=failed&model=...: without it, a model with few failures is a
//   walk through every failure, or every image of the model); partial, as
//   small as the failures.
// - images_filename_trgm: `q`, a substring of the file name, matched with
//   ILIKE through pg_trgm's trigram GIN index (q has at least 3 characters:
//   a trigram's; shorter, no index narrows it), when pg_trgm can be had. It is
//   one of PostgreSQL's contrib extensions and "trusted" (PostgreSQL 13 on):
//   a role with CREATE on the database may install it. Where it is not
//   available, or this role may not create it, the migration goes on without
//   that index: `q` still works, by scanning the rows the other filters and
//   the order leave (lookout_migrations says 0012 ran either way; the index's
//   presence is what tells).
import type { Migration } from './migration.js';
import type { Queryable } from '../pool.js';

/** Whether pg_trgm is installed now, creating it if it is available and this role may. */
async function trigramsAvailable(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ available: boolean; installed: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') AS available,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') AS installed`,
  );
  if (rows[0]!.installed) return true;
  if (!rows[0]!.available) return false;
  // Inside the migration's transaction: a refusal (no CREATE privilege) rolls back to here only.
  await db.query('SAVEPOINT lookout_pg_trgm');
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await db.query('RELEASE SAVEPOINT lookout_pg_trgm');
    return true;
  } catch {
    await db.query('ROLLBACK TO SAVEPOINT lookout_pg_trgm');
    return false;
  }
}

export const imageListIndexes: Migration = {
  name: '0012-image-list-indexes',
  async up(db) {
    await db.query(`
      CREATE INDEX images_listed ON images ((coalesce(finished_at, created_at)) DESC, id DESC);
      CREATE INDEX images_listed_by_status ON images (status, (coalesce(finished_at, created_at)) DESC, id DESC);
      CREATE INDEX images_listed_by_error ON images (error_code, (coalesce(finished_at, created_at)) DESC, id DESC)
        WHERE error_code IS NOT NULL;
      CREATE INDEX images_listed_by_model ON images (model, (coalesce(finished_at, created_at)) DESC, id DESC);
      CREATE INDEX images_listed_failed_by_model ON images (model, (coalesce(finished_at, created_at)) DESC, id DESC)
        WHERE status = 'failed';
    `);
    if (await trigramsAvailable(db)) {
      // The operator class is schema-qualified where the extension lives (a search_path without it still finds it).
      const { rows } = await db.query<{ schema: string }>(
        `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`,
      );
      const schema = rows[0]!.schema.replaceAll('"', '""');
      await db.query(`CREATE INDEX images_filename_trgm ON images USING gin (filename "${schema}".gin_trgm_ops)`);
    }
  },
  async down(db) {
    // pg_trgm stays: other databases' objects or an operator's may use it, and it holds no data.
    await db.query(`
      DROP INDEX IF EXISTS images_filename_trgm;
      DROP INDEX images_listed_failed_by_model;
      DROP INDEX images_listed_by_model;
      DROP INDEX images_listed_by_error;
      DROP INDEX images_listed_by_status;
      DROP INDEX images_listed;
    `);
  },
};
