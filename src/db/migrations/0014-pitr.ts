// Point-in-time recovery (issue 20): the backup catalogue also lists
// pgBackRest's backups (kind 'pitr', its label and type, no file of ours),
// and the restore drills run on them (RPO and RTO, seconds; what the drill's
// copy was recovered to). Existing rows are the logical dumps.
import type { Migration } from './migration.js';

export const pitr: Migration = {
  name: '0014-pitr',
  async up(db) {
    await db.query(`
      ALTER TABLE backups
        ADD COLUMN kind text NOT NULL DEFAULT 'logical' CHECK (kind IN ('logical', 'pitr')),
        ADD COLUMN label text,
        ADD COLUMN backup_type text CHECK (backup_type IN ('full', 'diff', 'incr')),
        ADD COLUMN rpo_seconds double precision,
        ADD COLUMN rto_seconds double precision,
        ADD COLUMN recovered_to timestamptz;
      CREATE UNIQUE INDEX backups_pitr_label_unique ON backups (label) WHERE kind = 'pitr' AND label IS NOT NULL;
    `);
  },
  async down(db) {
    await db.query(`
      DELETE FROM backups WHERE kind = 'pitr';
      DROP INDEX backups_pitr_label_unique;
      ALTER TABLE backups DROP COLUMN kind, DROP COLUMN label, DROP COLUMN backup_type,
        DROP COLUMN rpo_seconds, DROP COLUMN rto_seconds, DROP COLUMN recovered_to;
    `);
  },
};
