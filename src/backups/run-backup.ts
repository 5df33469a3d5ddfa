// One backup: pg_dump -Fc (uncompressed) of Lookout's database → gzip →
// AES-256-GCM → file, hashed and counted on the way; memory stays bounded by
// stream buffers whatever the database size. Row counts come from the same
// snapshot pg_dump reads (pg_export_snapshot), so verify can compare exactly.
// The file is written as .tmp and renamed only after pg_dump exited 0; the
// catalogue says succeeded only after the rename and the manifest.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { beginExportedSnapshot, commitSnapshot, releaseSnapshot } from '../db/export-snapshot.js';
import type { Pool } from '../db/pool.js';
import { completeBackup, startBackupAttempt } from '../db/repositories/backups.js';
import { countRows } from '../db/row-counts.js';
import { createEncryptStream, keyIdOf } from './backup-crypto.js';
import { writeManifest, type BackupManifest } from './manifest.js';
import { checkToolsSuitServer, libpqConnection, spawnTool } from './pg-tools.js';

export interface BackupDeps {
  pool: Pool;
  databaseUrl: string;
  dir: string;
  key: Buffer | undefined;
  now?: () => Date;
}

export interface BackupProgress {
  phase: 'dump';
  rawBytes: number;
  /** pg_database_size: an upper estimate of the dump's raw size. */
  estimatedBytes: number;
}

export interface BackupResult {
  id: string;
  file: string;
  manifestFile: string;
  rawBytes: number;
  storedBytes: number;
  sha256: string;
}

export class BackupConfigError extends Error {}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

export async function runBackup(deps: BackupDeps, id: string, onProgress?: (p: BackupProgress) => void): Promise<BackupResult> {
  if (!deps.key) throw new BackupConfigError('BACKUP_ENCRYPTION_KEY is not set: backups are never written unencrypted');
  const now = deps.now ?? (() => new Date());
  const tools = await checkToolsSuitServer(deps.pool);
  await startBackupAttempt(deps.pool, id);
  await mkdir(deps.dir, { recursive: true });
  const startedAt = now();
  const base = path.join(deps.dir, `lookout-${stamp(startedAt)}-${id}`);
  const file = `${base}.lkb`;
  const tmp = `${file}.tmp`;
  // An earlier attempt killed mid-dump left its partial file: remove it.
  for (const name of await readdir(deps.dir)) {
    if (name.endsWith(`-${id}.lkb.tmp`)) await rm(path.join(deps.dir, name), { force: true });
  }

  // The snapshot transaction stays open while pg_dump reads from it.
  const snapshot = await deps.pool.connect();
  try {
    const facts = await beginExportedSnapshot(snapshot);
    const rowCounts = await countRows(snapshot);
    const estimatedBytes = Number(facts.size);

    const conn = libpqConnection(deps.databaseUrl);
    const dump = spawnTool('pg_dump', ['--format=custom', '--compress=0', `--snapshot=${facts.snap}`, `--dbname=${conn.dbname}`], conn.env, 'ignore');
    let rawBytes = 0;
    let lastReport = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        rawBytes += chunk.length;
        if (onProgress && rawBytes - lastReport > 8 * 1024 * 1024) {
          lastReport = rawBytes;
          onProgress({ phase: 'dump', rawBytes, estimatedBytes });
        }
        done(null, chunk);
      },
    });
    const hash = createHash('sha256');
    let storedBytes = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, done) {
        storedBytes += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await Promise.all([
        pipeline(dump.child.stdout!, meter, createGzip({ level: 6 }), createEncryptStream(deps.key), hasher, createWriteStream(tmp)),
        dump.done,
      ]);
    } catch (err) {
      dump.child.kill('SIGTERM');
      await rm(tmp, { force: true });
      throw err;
    }
    await commitSnapshot(snapshot);

    const sha256 = hash.digest('hex');
    await rename(tmp, file);
    const manifest: BackupManifest = {
      format: 'lookout-backup/1',
      id,
      file: path.basename(file),
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      rawBytes,
      storedBytes,
      sha256,
      keyId: keyIdOf(deps.key),
      compression: 'gzip',
      encryption: 'aes-256-gcm',
      pgVersion: tools.server,
      pgDumpVersion: tools.dump,
      database: facts.db,
      migration: facts.migration ?? '',
      rowCounts,
    };
    const manifestFile = `${base}.json`;
    await writeManifest(manifestFile, manifest);
    await completeBackup(deps.pool, id, {
      file,
      rawBytes,
      storedBytes,
      sha256,
      keyId: manifest.keyId,
      pgVersion: tools.server,
      migration: manifest.migration,
      rowCounts,
    });
    onProgress?.({ phase: 'dump', rawBytes, estimatedBytes: rawBytes });
    return { id, file, manifestFile, rawBytes, storedBytes, sha256 };
  } finally {
    await releaseSnapshot(snapshot);
    snapshot.release();
  }
}
