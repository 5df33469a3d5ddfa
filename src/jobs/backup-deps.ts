// What the backup job handlers need, passed in by the worker process.
import type { Logger } from 'pino';
import type { BackupConfig } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { Queues } from './enqueue.js';

export interface BackupJobDeps {
  pool: Pool;
  /** The application's connection: backups (pg_dump reads every table). */
  databaseUrl: string;
  /** The owner's connection, when the roles are split: verify and restore create, rename and drop databases. */
  databaseOwnerUrl: string | undefined;
  backup: BackupConfig;
  logger: Logger;
  now: () => Date;
  /** Where follow-up jobs go (a verify after a backup), through enqueue(). */
  queues: Queues;
}

/** Every key verify and restore may need: the current one and the rotated-out ones. */
export const decryptionKeys = (backup: BackupConfig): Buffer[] => [...(backup.key ? [backup.key] : []), ...backup.oldKeys];

/** Reports restore progress on the job, at most every 8 MiB, in the shape the CLI's bar reads. */
export function restoreProgress(job: { updateProgress(p: object): Promise<unknown> }, estimatedBytes: number | null): (n: number) => void {
  let last = 0;
  return (rawBytes) => {
    if (rawBytes - last < 8 * 1024 * 1024) return;
    last = rawBytes;
    job.updateProgress({ phase: 'restore', rawBytes, estimatedBytes: estimatedBytes ?? rawBytes }).catch(() => undefined);
  };
}
