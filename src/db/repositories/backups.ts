// The backup catalogue.
import path from 'node:path';
import type { BackupStatus } from '../../wire/status-lists.js';
import type { Queryable } from '../pool.js';

export type { BackupStatus };
export type BackupTrigger = 'manual' | 'scheduler' | 'safety';
/** `logical`: Lookout's own encrypted pg_dump file; `pitr`: a pgBackRest backup of the cluster (its label, no file of ours). */
export type BackupKind = 'logical' | 'pitr';
/** A pgBackRest backup's type. */
export type PitrBackupType = 'full' | 'diff' | 'incr';

/**
 * What the API and `lookout backup list --json` show of a backup. The file is
 * named by its name in BACKUP_DIR, never the server's absolute path, which
 * is also taken out of the error text.
 */
export function backupSummary(b: BackupRecord) {
  const dir = b.file === null ? undefined : path.dirname(b.file) + path.sep;
  return {
    id: b.id,
    kind: b.kind,
    status: b.status,
    trigger: b.trigger,
    createdAt: b.createdAt,
    finishedAt: b.finishedAt,
    verifiedAt: b.verifiedAt,
    file: b.file === null ? null : path.basename(b.file),
    bytes: b.storedBytes,
    sha256: b.sha256,
    error: b.error !== null && dir ? b.error.replaceAll(dir, '') : b.error,
    label: b.label,
    type: b.backupType,
    rpoSeconds: b.rpoSeconds,
    rtoSeconds: b.rtoSeconds,
  };
}

export interface BackupRecord {
  id: string;
  kind: BackupKind;
  status: BackupStatus;
  trigger: BackupTrigger;
  actor: string;
  file: string | null;
  rawBytes: number | null;
  storedBytes: number | null;
  sha256: string | null;
  keyId: string | null;
  pgVersion: string | null;
  migration: string | null;
  rowCounts: Record<string, number> | null;
  error: string | null;
  attempts: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  verifiedAt: Date | null;
  prunedAt: Date | null;
  /** pitr: pgBackRest's label of the backup (20260101-010000F), once it exists. */
  label: string | null;
  /** pitr: full, diff or incr. */
  backupType: PitrBackupType | null;
  /** pitr, after a drill: target time minus the last archived WAL's time, and restore-and-start duration (seconds). */
  rpoSeconds: number | null;
  rtoSeconds: number | null;
  /** pitr, after a drill: the last transaction the drill's copy holds. */
  recoveredTo: Date | null;
}

const COLUMNS = `id, status, trigger, actor, file, raw_bytes::float8 AS "rawBytes", stored_bytes::float8 AS "storedBytes", sha256,
  key_id AS "keyId", pg_version AS "pgVersion", migration, row_counts AS "rowCounts", error, attempts,
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt", verified_at AS "verifiedAt", pruned_at AS "prunedAt",
  kind, label, backup_type AS "backupType", rpo_seconds AS "rpoSeconds", rto_seconds AS "rtoSeconds", recovered_to AS "recoveredTo"`;

export async function insertBackup(db: Queryable, b: { id: string; trigger: BackupTrigger; actor: string }): Promise<void> {
  await db.query('INSERT INTO backups (id, trigger, actor) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [b.id, b.trigger, b.actor]);
}

export async function getBackup(db: Queryable, id: string): Promise<BackupRecord | undefined> {
  const { rows } = await db.query<BackupRecord>(`SELECT ${COLUMNS} FROM backups WHERE id = $1`, [id]);
  return rows[0];
}

export async function listBackups(db: Queryable, limit = 100): Promise<BackupRecord[]> {
  const { rows } = await db.query<BackupRecord>(`SELECT ${COLUMNS} FROM backups ORDER BY created_at DESC LIMIT $1`, [limit]);
  return rows;
}

/** When the newest verified logical backup finished its dump; undefined when none is verified. */
export async function newestVerifiedBackupAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(`SELECT max(finished_at) AS at FROM backups WHERE status = 'verified' AND kind = 'logical'`);
  return rows[0]?.at ?? undefined;
}

export async function startBackupAttempt(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE backups SET status = 'running', attempts = attempts + 1, started_at = now(), error = NULL WHERE id = $1`, [id]);
}

export async function completeBackup(
  db: Queryable,
  id: string,
  facts: {
    file: string;
    rawBytes: number;
    storedBytes: number;
    sha256: string;
    keyId: string;
    pgVersion: string;
    migration: string;
    rowCounts: Record<string, number>;
  },
): Promise<void> {
  await db.query(
    `UPDATE backups SET status = 'succeeded', file = $2, raw_bytes = $3, stored_bytes = $4, sha256 = $5, key_id = $6,
            pg_version = $7, migration = $8, row_counts = $9, finished_at = now(), error = NULL
      WHERE id = $1`,
    [id, facts.file, facts.rawBytes, facts.storedBytes, facts.sha256, facts.keyId, facts.pgVersion, facts.migration, JSON.stringify(facts.rowCounts)],
  );
}

export async function failBackup(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(`UPDATE backups SET status = 'failed', error = $2, finished_at = now() WHERE id = $1`, [id, error]);
}

export async function recordVerification(db: Queryable, id: string, ok: boolean, error?: string): Promise<void> {
  await db.query(`UPDATE backups SET status = $2, verified_at = now(), error = $3 WHERE id = $1 AND status <> 'pruned'`, [
    id,
    ok ? 'verified' : 'verify_failed',
    error ?? null,
  ]);
}

export async function markPruned(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE backups SET status = 'pruned', pruned_at = now() WHERE id = $1`, [id]);
}

// Point-in-time recovery (pgBackRest) rows: kind 'pitr'.

/** A pgBackRest backup as `pgbackrest info` describes it, for the catalogue. */
export interface PitrBackupFacts {
  label: string;
  type: PitrBackupType;
  startedAt: Date;
  finishedAt: Date;
  /** What the repository stores for this backup (bytes). */
  storedBytes: number;
  /** The database files it covers (bytes). */
  rawBytes: number;
  pgVersion: string;
}

/** A running pitr row for a backup Lookout starts (idempotent on the id: a retry keeps its row). */
export async function insertPitrBackup(db: Queryable, b: { id: string; trigger: BackupTrigger; actor: string; type: PitrBackupType }): Promise<void> {
  await db.query(
    `INSERT INTO backups (id, kind, trigger, actor, backup_type, started_at, attempts) VALUES ($1, 'pitr', $2, $3, $4, now(), 1)
     ON CONFLICT (id) DO UPDATE SET status = 'running', attempts = backups.attempts + 1, started_at = now(), error = NULL`,
    [b.id, b.trigger, b.actor, b.type],
  );
}

/** The pitr row `id` succeeded: pgBackRest's facts of the backup it made. */
export async function completePitrBackup(db: Queryable, id: string, facts: PitrBackupFacts): Promise<void> {
  await db.query(
    `UPDATE backups SET status = 'succeeded', label = $2, backup_type = $3, started_at = $4, finished_at = $5, stored_bytes = $6,
            raw_bytes = $7, pg_version = $8, error = NULL
      WHERE id = $1`,
    [id, facts.label, facts.type, facts.startedAt, facts.finishedAt, facts.storedBytes, facts.rawBytes, facts.pgVersion],
  );
}

/**
 * The catalogue row of pgBackRest backup `label`; one is added (trigger
 * `trigger`, actor `actor`) for a backup made outside Lookout (the DBA's own
 * cron), so a drill always has a row to record on.
 */
export async function pitrBackupByLabel(
  db: Queryable,
  facts: PitrBackupFacts,
  added: { id: string; trigger: BackupTrigger; actor: string },
): Promise<BackupRecord> {
  await db.query(
    `INSERT INTO backups (id, kind, status, trigger, actor, label, backup_type, started_at, finished_at, stored_bytes, raw_bytes, pg_version)
     VALUES ($1, 'pitr', 'succeeded', $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (label) WHERE kind = 'pitr' AND label IS NOT NULL DO NOTHING`,
    [added.id, added.trigger, added.actor, facts.label, facts.type, facts.startedAt, facts.finishedAt, facts.storedBytes, facts.rawBytes, facts.pgVersion],
  );
  const { rows } = await db.query<BackupRecord>(`SELECT ${COLUMNS} FROM backups WHERE kind = 'pitr' AND label = $1`, [facts.label]);
  return rows[0]!;
}

/** A drill's outcome on the row of the backup it restored: verified (with RPO, RTO and the copy's last transaction) or verify_failed. */
export async function recordPitrDrill(
  db: Queryable,
  id: string,
  outcome:
    { ok: true; rpoSeconds: number | null; rtoSeconds: number; recoveredTo: Date | null; rowCounts: Record<string, number> } | { ok: false; error: string },
): Promise<void> {
  if (outcome.ok) {
    await db.query(
      `UPDATE backups SET status = 'verified', verified_at = now(), error = NULL, rpo_seconds = $2, rto_seconds = $3, recovered_to = $4, row_counts = $5
        WHERE id = $1 AND status <> 'pruned'`,
      [id, outcome.rpoSeconds, outcome.rtoSeconds, outcome.recoveredTo, JSON.stringify(outcome.rowCounts)],
    );
  } else {
    await db.query(`UPDATE backups SET status = 'verify_failed', verified_at = now(), error = $2 WHERE id = $1 AND status <> 'pruned'`, [id, outcome.error]);
  }
}

/** pitr rows whose backup pgBackRest no longer holds (expired by its retention) become `pruned`; returns how many. */
export async function markPitrBackupsExpired(db: Queryable, labelsHeld: readonly string[]): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE backups SET status = 'pruned', pruned_at = now()
      WHERE kind = 'pitr' AND label IS NOT NULL AND status <> 'pruned' AND NOT (label = ANY($1::text[]))`,
    [labelsHeld],
  );
  return rowCount ?? 0;
}

/** The newest drill's RPO, RTO and time (the metrics), or undefined before the first. */
export async function latestPitrDrill(db: Queryable): Promise<{ rpoSeconds: number | null; rtoSeconds: number; at: Date } | undefined> {
  const { rows } = await db.query<{ rpoSeconds: number | null; rtoSeconds: number; at: Date }>(
    `SELECT rpo_seconds AS "rpoSeconds", rto_seconds AS "rtoSeconds", verified_at AS at FROM backups
      WHERE kind = 'pitr' AND rto_seconds IS NOT NULL ORDER BY verified_at DESC LIMIT 1`,
  );
  return rows[0];
}

/** pgBackRest backups as the catalogue knows them (not pruned), oldest first: `pitr status` on a host without pgBackRest. */
export async function listPitrBackups(db: Queryable): Promise<PitrBackupFacts[]> {
  const { rows } = await db.query<PitrBackupFacts>(
    `SELECT label, backup_type AS type, started_at AS "startedAt", finished_at AS "finishedAt", coalesce(stored_bytes, 0)::float8 AS "storedBytes",
            coalesce(raw_bytes, 0)::float8 AS "rawBytes", coalesce(pg_version, '') AS "pgVersion"
       FROM backups WHERE kind = 'pitr' AND label IS NOT NULL AND status <> 'pruned' ORDER BY finished_at`,
  );
  return rows;
}
