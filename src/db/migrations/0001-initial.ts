// Batches, images, detections, models, API keys and the append-only audit log.
import type { Migration } from './migration.js';

export const initial: Migration = {
  name: '0001-initial',
  async up(db) {
    await db.query(`
      CREATE TABLE models (
        name text PRIMARY KEY,
        version text NOT NULL,
        sha256 text NOT NULL,
        license text NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'submitter', 'viewer')),
        secret_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz
      );

      CREATE TABLE batches (
        id uuid PRIMARY KEY,
        status text NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'running', 'completed', 'completed_with_errors', 'failed')),
        model text NOT NULL,
        min_score real NOT NULL,
        total integer NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      );
      CREATE INDEX batches_created_at ON batches (created_at DESC);

      CREATE TABLE images (
        id uuid PRIMARY KEY,
        batch_id uuid NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
        position integer NOT NULL,
        filename text NOT NULL,
        sha256 text NOT NULL,
        bytes bigint NOT NULL,
        blob_key text NOT NULL,
        model text NOT NULL,
        min_score real NOT NULL,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
        error_code text,
        error_message text,
        width integer,
        height integer,
        model_version text,
        model_sha256 text,
        cache_hit boolean NOT NULL DEFAULT false,
        attempts integer NOT NULL DEFAULT 0,
        worker_id text,
        timings jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        UNIQUE (batch_id, position)
      );
      CREATE INDEX images_batch ON images (batch_id, position);
      -- Finds an earlier answer for the same bytes, model and threshold.
      CREATE INDEX images_answered ON images (sha256, model, min_score) WHERE status = 'done';

      CREATE TABLE detections (
        id bigserial PRIMARY KEY,
        image_id uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        rank smallint NOT NULL,
        label text NOT NULL,
        score real NOT NULL,
        x1 real NOT NULL,
        y1 real NOT NULL,
        x2 real NOT NULL,
        y2 real NOT NULL,
        keypoints jsonb,
        -- Deferred: a result replaces the image's rows in one statement
        -- (delete and insert side by side), checked once at its end.
        UNIQUE (image_id, rank) DEFERRABLE INITIALLY DEFERRED
      );

      CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        outcome text NOT NULL DEFAULT 'ok',
        details jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_log_at ON audit_log (at DESC);

      CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END;
      $$;
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
    `);
  },
  async down(db) {
    await db.query(`
      DROP TABLE audit_log;
      DROP FUNCTION audit_log_refuse_change();
      DROP TABLE detections;
      DROP TABLE images;
      DROP TABLE batches;
      DROP TABLE api_keys;
      DROP TABLE models;
    `);
  },
};
