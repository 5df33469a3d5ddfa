// restore: a backup into a named database (a new one by default); the live
// database only with replaceLive, after a safety backup, and while batches
// are unfinished only with allowRunningBatches.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jobActor, keepFinished, type JobType } from '../job-type.js';
import { BACKUP_QUEUE } from '../backup-run/definition.js';

export const restorePayload = z.object({
  backupId: z.uuid(),
  targetDatabase: z.string().min(1).max(63).optional(),
  replaceLive: z.boolean().default(false),
  /** Skip the safety backup before replacing the live database (an explicit, audited choice). */
  skipSafetyBackup: z.boolean().default(false),
  /** Replace the live database even while batches are queued or running (their work is lost; their ids go into the audit row). */
  allowRunningBatches: z.boolean().default(false),
  actor: jobActor,
});
/** What a restore returns; the CLI reads it when it waits. */
export interface RestoreResult {
  id: string;
  status: 'restored';
  database: string;
  previous?: string;
  safetyBackupId?: string;
  /** The restore's own audit row in the restored database (replace-live only), a bigint as a decimal string. */
  auditId?: string;
}

export const restore: JobType<typeof restorePayload> = {
  name: 'restore',
  queue: BACKUP_QUEUE,
  payload: restorePayload,
  defaultOptions: { attempts: 1, ...keepFinished(90, 90, 1000) },
  /** Every request is a restore of its own (a restore job never runs twice: handler.ts). */
  jobId: () => `restore_${randomUUID()}`,
};
