// Each worker's own heartbeat interval (its HEARTBEAT_MS), so a process
// reading the fleet judges it live or missing by the worker's beat, not its
// own setting. Rows from before have none: the reader's interval is used.
import type { Migration } from './migration.js';

export const workerHeartbeat: Migration = {
  name: '0006-worker-heartbeat',
  async up(db) {
    await db.query('ALTER TABLE workers ADD COLUMN heartbeat_ms integer CHECK (heartbeat_ms > 0)');
  },
  async down(db) {
    await db.query('ALTER TABLE workers DROP COLUMN heartbeat_ms');
  },
};
