// restore: a backup into a named database (a new one by default); the live
// database only with replaceLive, after a safety backup, and while batches
// are unfinished only with allowRunningBatches.
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
export const restoreResult = z.object({
  id: z.uuid(),
  status: z.literal('restored'),
  database: z.string(),
  previous: z.string().optional(),
  safetyBackupId: z.uuid().optional(),
  /** The restore's own audit row in the restored database (replace-live only), a bigint as a decimal string. */
  auditId: z.string().optional(),
});
export type RestoreResult = z.infer<typeof restoreResult>;

export const restore: JobType<typeof restorePayload, typeof restoreResult> = {
  name: 'restore',
  queue: BACKUP_QUEUE,
  payload: restorePayload,
  result: restoreResult,
  defaultOptions: { attempts: 1, ...keepFinished(90, 90, 1000) },
};
