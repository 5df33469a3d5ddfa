// What the backup job handlers need, passed in by the worker process.
import type { Logger } from 'pino';
import type { BackupConfig } from '../config/config.js';
import type { Pool } from '../db/pool.js';

export interface BackupJobDeps {
  pool: Pool;
  databaseUrl: string;
  backup: BackupConfig;
  logger: Logger;
  now: () => Date;
  /** Enqueues a follow-up job (verify after a backup). */
  enqueue: (queue: string, name: string, data: unknown, jobId: string) => Promise<void>;
}

/** Every key verify and restore may need: the current one and the rotated-out ones. */
export const decryptionKeys = (backup: BackupConfig): Buffer[] => [...(backup.key ? [backup.key] : []), ...backup.oldKeys];
