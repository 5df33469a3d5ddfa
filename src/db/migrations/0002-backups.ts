// The backup catalogue: one row per backup, its file, manifest facts and status.
import type { Migration } from './migration.js';

export const backups: Migration = {
  name: '0002-backups',
  async up(db) {
    await db.query(`
      CREATE TABLE backups (
        id uuid PRIMARY KEY,
        status text NOT NULL DEFAULT 'running'
          CHECK (status IN ('running', 'succeeded', 'failed', 'verified', 'verify_failed', 'pruned')),
        trigger text NOT NULL CHECK (trigger IN ('manual', 'scheduler', 'safety')),
        actor text NOT NULL,
        file text,
        raw_bytes bigint,
        stored_bytes bigint,
        sha256 text,
        key_id text,
        pg_version text,
        migration text,
        row_counts jsonb,
        error text,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        verified_at timestamptz,
        pruned_at timestamptz
      );
      CREATE INDEX backups_created_at ON backups (created_at DESC);
    `);
  },
  async down(db) {
    await db.query('DROP TABLE backups');
  },
};
