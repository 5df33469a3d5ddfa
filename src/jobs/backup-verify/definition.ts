// backup-verify: decrypt, check, pg_restore into a scratch database, compare row counts.
import { z } from 'zod';
import { jobActor, keepFinished, retrying, type JobType } from '../job-type.js';
import { BACKUP_QUEUE } from '../backup-run/definition.js';

export const backupVerifyPayload = z.object({ backupId: z.uuid(), actor: jobActor });
export const backupVerifyResult = z.object({
  id: z.uuid(),
  status: z.enum(['verified', 'verify_failed']),
  error: z.string().optional(),
});
export type BackupVerifyResult = z.infer<typeof backupVerifyResult>;

export const backupVerify: JobType<typeof backupVerifyPayload, typeof backupVerifyResult> = {
  name: 'backup-verify',
  queue: BACKUP_QUEUE,
  payload: backupVerifyPayload,
  result: backupVerifyResult,
  defaultOptions: {
    ...retrying(3, 10_000),
    ...keepFinished(30, 90, 1000),
  },
};

export const backupVerifyJobId = (backupId: string, why: string): string => `verify_${backupId}_${why}`;
