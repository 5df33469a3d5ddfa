// Batch completion webhooks; request ids in the audit log.
import type { Migration } from './migration.js';

export const security: Migration = {
  name: '0004-security',
  async up(db) {
    await db.query(`
      ALTER TABLE batches ADD COLUMN webhook_url text;
      CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
      CREATE INDEX audit_log_action ON audit_log (action, at DESC);
      CREATE INDEX audit_log_target ON audit_log (target, at DESC);
    `);
  },
  async down(db) {
    await db.query(`
      DROP INDEX audit_log_target; DROP INDEX audit_log_action; DROP INDEX audit_log_actor;
      ALTER TABLE batches DROP COLUMN webhook_url;
    `);
  },
};
