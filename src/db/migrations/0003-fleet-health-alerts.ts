// Worker heartbeats, health probe results and alerts.
import type { Migration } from './migration.js';

export const fleetHealthAlerts: Migration = {
  name: '0003-fleet-health-alerts',
  async up(db) {
    await db.query(`
      CREATE TABLE workers (
        id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        queues text[] NOT NULL,
        device text,
        concurrency integer NOT NULL,
        version text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        last_seen timestamptz NOT NULL DEFAULT now(),
        stopped_at timestamptz,
        jobs_done bigint NOT NULL DEFAULT 0,
        jobs_failed bigint NOT NULL DEFAULT 0,
        current_jobs jsonb NOT NULL DEFAULT '[]'
      );
      CREATE INDEX workers_last_seen ON workers (last_seen DESC);

      CREATE TABLE health_checks (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        status text NOT NULL CHECK (status IN ('ok', 'warn', 'critical')),
        components jsonb NOT NULL
      );
      CREATE INDEX health_checks_at ON health_checks (at DESC);

      CREATE TABLE alerts (
        id uuid PRIMARY KEY,
        rule text NOT NULL,
        key text NOT NULL,
        severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
        status text NOT NULL CHECK (status IN ('pending', 'firing', 'resolved')),
        message text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}',
        pending_since timestamptz NOT NULL DEFAULT now(),
        fired_at timestamptz,
        resolved_at timestamptz,
        last_notified_at timestamptz,
        notifications integer NOT NULL DEFAULT 0,
        silenced_until timestamptz,
        silenced_by text
      );
      -- One open (pending or firing) alert per rule and key.
      CREATE UNIQUE INDEX alerts_open ON alerts (rule, key) WHERE status <> 'resolved';
      CREATE INDEX alerts_recent ON alerts (pending_since DESC);
    `);
  },
  async down(db) {
    await db.query('DROP TABLE alerts; DROP TABLE health_checks; DROP TABLE workers;');
  },
};
