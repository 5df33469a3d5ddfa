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
import { countRows } from '../db/row-counts.js';
import {
  allowConnections,
  createDatabase,
  databaseClient,
  databaseExists,
  databaseNameOf,
  dropDatabaseIfExists,
  renameDatabase,
  terminateConnections,
  withDatabase,
  withServer,
} from '../db/server-admin.js';
import type { BackupRecord } from '../db/repositories/backups.js';
import { BackupIntegrityError, openDecryptStream } from './backup-crypto.js';
import { carryLiveState, stageLiveTrail, type CarriedState } from './carry-live-state.js';
import { libpqConnection, spawnTool } from './pg-tools.js';
import { RestoreRefusedError } from './restore-refused.js';
import { compareCounts } from './row-counts.js';
import { refuseUnfinished } from './unfinished-batches.js';
import { unfinishedBatches } from '../db/repositories/unfinished-batches.js';

export { RestoreRefusedError } from './restore-refused.js';

export interface RestoreDeps {
  databaseUrl: string;
  keys: readonly Buffer[];
}

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
  await withServer(deps.databaseUrl, (admin) => createDatabase(admin, scratch));
  try {
    const decrypted = await openDecryptStream(file, deps.keys);
    const conn = libpqConnection(deps.databaseUrl, scratch);
    const restore = spawnTool('pg_restore', ['--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', `--dbname=${conn.dbname}`], conn.env, 'pipe');
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
    const client = databaseClient(deps.databaseUrl, scratch);
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

/** verify: restore into scratch, compare, drop. */
export async function verifyBackupFile(deps: RestoreDeps, backup: BackupRecord, onRestoredBytes?: (n: number) => void): Promise<void> {
  const scratch = await restoreToScratch(deps, backup, onRestoredBytes);
  await withServer(deps.databaseUrl, (admin) => dropDatabaseIfExists(admin, scratch));
}

/** Who restores, for the restore's own audit row (written into the restored database when it replaces the live one). */
export interface RestoreAudit {
  actor: string;
  /** `backup:<id>`. */
  target: string;
  details: Record<string, unknown>;
}

/**
 * restore into `target`: a database that must not exist yet, unless it is the
 * live database and `replaceLive` is set, in which case the live database is
 * kept, renamed, as `<name>_before_<timestamp>`, and its audit trail, API keys
 * and backup catalogue are carried into the restored one, which then holds
 * the restore's own `backup.restore` audit row (`auditId`). While the swap
 * runs nothing else can connect to the live database. `prepare` runs on the
 * restored copy before it is renamed, so it is never seen half set up.
 * @throws RestoreRefusedError for a bad name, an existing target, a live target
 *   without `replaceLive`, queued or running batches without
 *   `allowRunningBatches`, or a backup whose audit trail is not part of the live one;
 *   the live database is then as it was
 */
export async function restoreBackupInto(
  deps: RestoreDeps,
  backup: BackupRecord,
  target: string,
  options: {
    replaceLive: boolean;
    allowRunningBatches?: boolean;
    now: Date;
    audit: RestoreAudit;
    onRestoredBytes?: (n: number) => void;
    /** Run on the restored copy (by name) before it takes the target's name: the application role's grants. */
    prepare?: (database: string) => Promise<void>;
  },
): Promise<{ database: string; previous?: string; auditId?: string; carried?: CarriedState }> {
  validateDatabaseName(target);
  const live = databaseNameOf(deps.databaseUrl);
  const replacing = target === live;
  if (replacing && !options.replaceLive) {
    throw new RestoreRefusedError(`"${target}" is Lookout's live database: replacing it needs --replace-live`);
  }
  const exists = await withServer(deps.databaseUrl, (admin) => databaseExists(admin, target));
  if (exists && !replacing) throw new RestoreRefusedError(`database "${target}" already exists; restore into a new name`);

  const scratch = await restoreToScratch(deps, backup, options.onRestoredBytes);
  if (options.prepare) {
    try {
      await options.prepare(scratch);
    } catch (err) {
      await withServer(deps.databaseUrl, (admin) => dropDatabaseIfExists(admin, scratch)).catch(() => undefined);
      throw err;
    }
  }
  if (!replacing) {
    return withServer(deps.databaseUrl, async (admin) => {
      try {
        await renameDatabase(admin, scratch, target);
        return { database: target };
      } catch (err) {
        await dropDatabaseIfExists(admin, scratch).catch(() => undefined);
        throw err;
      }
    });
  }

  const previous = `${live}_before_${options.now.toISOString().replace(/\D/g, '').slice(0, 14)}`.slice(0, MAX_NAME);
  const restored = databaseClient(deps.databaseUrl, scratch);
  restored.on('error', () => undefined); // a lost connection fails the query in flight; that is reported
  let restoredOpen = false;
  try {
    await restored.connect();
    restoredOpen = true;
    // The bulk of the trail while the live database still serves.
    const staged = await withDatabase(deps.databaseUrl, live, (source) => stageLiveTrail(source, restored));
    return await withServer(deps.databaseUrl, async (admin) => {
      let renamed = false;
      try {
        // The window: no new connection, the open ones cut, then the name
        // taken away, so every write after this point is refused, not lost.
        await allowConnections(admin, live, false);
        await terminateConnections(admin, live);
        await renameDatabase(admin, live, previous);
        renamed = true;
        await allowConnections(admin, previous, true);
        const carried = await withDatabase(deps.databaseUrl, previous, async (source) => {
          const batches = await unfinishedBatches(source);
          if (!options.allowRunningBatches) refuseUnfinished(batches);
          const unfinished = batches.queued + batches.running > 0 ? { unfinishedBatches: batches } : {};
          return carryLiveState(source, restored, staged, {
            actor: options.audit.actor,
            action: 'backup.restore',
            target: options.audit.target,
            details: { ...options.audit.details, database: live, previous, ...unfinished },
          });
        });
        await restored.end();
        restoredOpen = false;
        await renameDatabase(admin, scratch, live);
        return { database: live, previous, auditId: carried.auditId, carried };
      } catch (err) {
        if (renamed) await renameDatabase(admin, previous, live).catch(() => undefined);
        await allowConnections(admin, live, true).catch(() => undefined);
        throw err;
      }
    });
  } catch (err) {
    if (restoredOpen) await restored.end().catch(() => undefined);
    await withServer(deps.databaseUrl, (admin) => dropDatabaseIfExists(admin, scratch)).catch(() => undefined);
    throw err;
  }
}
