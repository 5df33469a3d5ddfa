// The backup catalogue.
import path from 'node:path';
import type { BackupStatus } from '../../wire/status-lists.js';
import type { Queryable } from '../pool.js';

export type { BackupStatus };
export type BackupTrigger = 'manual' | 'scheduler' | 'safety';

/**
 * What the API and `lookout backup list --json` show of a backup. The file is
 * named by its name in BACKUP_DIR, never the server's absolute path, which
 * is also taken out of the error text.
 */
export function backupSummary(b: BackupRecord) {
  const dir = b.file === null ? undefined : path.dirname(b.file) + path.sep;
  return {
    id: b.id,
    status: b.status,
    trigger: b.trigger,
    createdAt: b.createdAt,
    finishedAt: b.finishedAt,
    verifiedAt: b.verifiedAt,
    file: b.file === null ? null : path.basename(b.file),
    bytes: b.storedBytes,
    sha256: b.sha256,
    error: b.error !== null && dir ? b.error.replaceAll(dir, '') : b.error,
  };
}

export interface BackupRecord {
  id: string;
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
}

const COLUMNS = `id, status, trigger, actor, file, raw_bytes::float8 AS "rawBytes", stored_bytes::float8 AS "storedBytes", sha256,
  key_id AS "keyId", pg_version AS "pgVersion", migration, row_counts AS "rowCounts", error, attempts,
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt", verified_at AS "verifiedAt", pruned_at AS "prunedAt"`;

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

/** When the newest verified backup finished its dump; undefined when no backup is verified. */
export async function newestVerifiedBackupAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(`SELECT max(finished_at) AS at FROM backups WHERE status = 'verified'`);
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
