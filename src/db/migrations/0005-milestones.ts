// When something first happened on this install (`backups.enabled`: the first
// health probe that saw BACKUP_ENCRYPTION_KEY set). The backup age is judged
// from it, so turning backups on for an old install gets the first backup its
// schedule's time instead of an alert at once.
import type { Migration } from './migration.js';

export const milestones: Migration = {
  name: '0005-milestones',
  async up(db) {
    await db.query(`
      CREATE TABLE milestones (
        name text PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now()
      );
    `);
  },
  async down(db) {
    await db.query('DROP TABLE milestones');
  },
};
