// Getting a backup back: check the stored file's sha256, decrypt (GCM tag),
// gunzip and pg_restore into a scratch database, then compare every table's
// row count with the manifest. Verify drops the scratch database; restore
// renames it to the target, so a failure never leaves a half-restored target:
// it stays absent, or untouched when it is the live database.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import pg from 'pg';
import { databaseExists, databaseNameOf, dropDatabaseIfExists, urlForDatabase, withServer } from '../db/server-admin.js';
import type { BackupRecord } from '../db/repositories/backups.js';
import { BackupIntegrityError, openDecryptStream } from './backup-crypto.js';
import { libpqConnection, spawnTool } from './pg-tools.js';
import { compareCounts, countRows } from './row-counts.js';

export interface RestoreDeps {
  databaseUrl: string;
  keys: readonly Buffer[];
}

export class RestoreRefusedError extends Error {}

const MAX_NAME = 63;

export function validateDatabaseName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) || Buffer.byteLength(name) > MAX_NAME) {
    throw new RestoreRefusedError(`invalid database name "${name}": letters, digits, _ and -, at most ${MAX_NAME} bytes`);
  }
  return name;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
}

/** Checks the stored file against the catalogue before anything reads its contents. */
export async function checkStoredFile(backup: BackupRecord): Promise<string> {
  if (!backup.file || !backup.sha256) throw new BackupIntegrityError(`backup ${backup.id} has no finished file (status ${backup.status})`);
  try {
    await access(backup.file);
  } catch {
    throw new BackupIntegrityError(`backup file ${backup.file} is missing`);
  }
  const actual = await sha256OfFile(backup.file);
  if (actual !== backup.sha256) {
    throw new BackupIntegrityError(`backup file ${backup.file} has sha256 ${actual}, the catalogue says ${backup.sha256}: it was modified or truncated`);
  }
  return backup.file;
}

/**
 * Restores the backup into a new scratch database and checks it. Returns the
 * scratch database's name; on any failure the scratch database is dropped.
 */
export async function restoreToScratch(deps: RestoreDeps, backup: BackupRecord, onRestoredBytes?: (n: number) => void): Promise<string> {
  const file = await checkStoredFile(backup);
  const scratch = `lookout_scratch_${randomBytes(6).toString('hex')}`;
  await withServer(deps.databaseUrl, (admin) => admin.query(`CREATE DATABASE ${pg.escapeIdentifier(scratch)}`));
  try {
    const decrypted = await openDecryptStream(file, deps.keys);
    const conn = libpqConnection(deps.databaseUrl, scratch);
    const restore = spawnTool(
      'pg_restore',
      ['--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', `--dbname=${conn.dbname}`],
      conn.env,
      'pipe',
    );
    let bytes = 0;
    const gunzip = createGunzip();
    gunzip.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      onRestoredBytes?.(bytes);
    });
    try {
      await Promise.all([pipeline(decrypted, gunzip, restore.child.stdin!), restore.done]);
    } catch (err) {
      restore.child.kill('SIGTERM');
      throw err;
    }
    const client = new pg.Client({ connectionString: urlForDatabase(deps.databaseUrl, scratch) });
    await client.connect();
    try {
      const differences = compareCounts(backup.rowCounts ?? {}, await countRows(client));
      if (differences.length > 0) throw new BackupIntegrityError(`restored row counts differ from the manifest: ${differences.join('; ')}`);
    } finally {
      await client.end();
    }
    return scratch;
  } catch (err) {
    await withServer(deps.databaseUrl, (admin) => dropDatabaseIfExists(admin, scratch)).catch(() => undefined);
    throw err;
  }
}

/**
 * The restored database holds the backup catalogue as it was when the backup
 * was taken; the backups made since (the safety backup among them) and the
 * final status of the restored one are in the replaced database. Carry them
 * over, so the live catalogue stays true.
 */
async function carryBackupCatalogue(databaseUrl: string, from: string, to: string): Promise<void> {
  const source = new pg.Client({ connectionString: urlForDatabase(databaseUrl, from) });
  const target = new pg.Client({ connectionString: urlForDatabase(databaseUrl, to) });
  await source.connect();
  await target.connect();
  try {
    const { rows } = await source.query<{ row: unknown }>('SELECT row_to_json(b) AS row FROM backups b');
    if (rows.length === 0) return;
    await target.query(
      `INSERT INTO backups SELECT * FROM json_populate_recordset(NULL::backups, $1::json)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, file = EXCLUDED.file, raw_bytes = EXCLUDED.raw_bytes,
         stored_bytes = EXCLUDED.stored_bytes, sha256 = EXCLUDED.sha256, key_id = EXCLUDED.key_id, pg_version = EXCLUDED.pg_version,
         migration = EXCLUDED.migration, row_counts = EXCLUDED.row_counts, error = EXCLUDED.error, attempts = EXCLUDED.attempts,
         started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, verified_at = EXCLUDED.verified_at, pruned_at = EXCLUDED.pruned_at`,
      [JSON.stringify(rows.map((r) => r.row))],
    );
  } finally {
    await source.end();
    await target.end();
  }
}

/** verify: restore into scratch, compare, drop. */
export async function verifyBackupFile(deps: RestoreDeps, backup: BackupRecord, onRestoredBytes?: (n: number) => void): Promise<void> {
  const scratch = await restoreToScratch(deps, backup, onRestoredBytes);
  await withServer(deps.databaseUrl, (admin) => dropDatabaseIfExists(admin, scratch));
}

/**
 * restore into `target`: a database that must not exist yet, unless it is the
 * live database and `replaceLive` is set, in which case the live database is
 * kept, renamed, as `<name>_before_<timestamp>`.
 */
export async function restoreBackupInto(
  deps: RestoreDeps,
  backup: BackupRecord,
  target: string,
  options: { replaceLive: boolean; now: Date; onRestoredBytes?: (n: number) => void },
): Promise<{ database: string; previous?: string }> {
  validateDatabaseName(target);
  const live = databaseNameOf(deps.databaseUrl);
  const replacing = target === live;
  if (replacing && !options.replaceLive) {
    throw new RestoreRefusedError(`"${target}" is Lookout's live database: replacing it needs --replace-live`);
  }
  const exists = await withServer(deps.databaseUrl, (admin) => databaseExists(admin, target));
  if (exists && !replacing) throw new RestoreRefusedError(`database "${target}" already exists; restore into a new name`);

  const scratch = await restoreToScratch(deps, backup, options.onRestoredBytes);
  return withServer(deps.databaseUrl, async (admin) => {
    try {
      if (!replacing) {
        await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(scratch)} RENAME TO ${pg.escapeIdentifier(target)}`);
        return { database: target };
      }
      const previous = `${live}_before_${options.now.toISOString().replace(/\D/g, '').slice(0, 14)}`.slice(0, MAX_NAME);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [live]);
      await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(live)} RENAME TO ${pg.escapeIdentifier(previous)}`);
      await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(scratch)} RENAME TO ${pg.escapeIdentifier(live)}`);
      await carryBackupCatalogue(deps.databaseUrl, previous, live);
      return { database: live, previous };
    } catch (err) {
      await dropDatabaseIfExists(admin, scratch).catch(() => undefined);
      throw err;
    }
  });
}
