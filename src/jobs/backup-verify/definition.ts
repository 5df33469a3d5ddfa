// backup-verify: decrypt, check, pg_restore into a scratch database, compare row counts.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jobActor, keepFinished, retrying, type JobType } from '../job-type.js';
import { BACKUP_QUEUE } from '../backup-run/definition.js';

export const backupVerifyPayload = z.object({ backupId: z.uuid(), actor: jobActor });
/** What a run returns; the CLI reads it when it waits. */
export interface BackupVerifyResult {
  id: string;
  status: 'verified' | 'verify_failed';
  error?: string;
}

export const backupVerifyJobId = (backupId: string, why: string): string => `verify_${backupId}_${why}`;

export const backupVerify: JobType<typeof backupVerifyPayload> = {
  name: 'backup-verify',
  queue: BACKUP_QUEUE,
  payload: backupVerifyPayload,
  defaultOptions: {
    ...retrying(3, 10_000),
    ...keepFinished(30, 90, 1000),
  },
  /** The occasion says why ('after-run'); a request names none and gets a fresh id, so asking again verifies again. */
  jobId: (p, occasion) => backupVerifyJobId(p.backupId, occasion ?? randomUUID()),
};
