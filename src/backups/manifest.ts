// The JSON manifest written beside every backup file: what it holds and how
// to check it, readable without the database.
import { rename, writeFile } from 'node:fs/promises';

export interface BackupManifest {
  format: 'lookout-backup/1';
  id: string;
  file: string;
  startedAt: string;
  finishedAt: string;
  rawBytes: number;
  storedBytes: number;
  sha256: string;
  keyId: string;
  compression: 'gzip';
  encryption: 'aes-256-gcm';
  pgVersion: string;
  pgDumpVersion: number;
  database: string;
  migration: string;
  rowCounts: Record<string, number>;
}

export async function writeManifest(path: string, manifest: BackupManifest): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
