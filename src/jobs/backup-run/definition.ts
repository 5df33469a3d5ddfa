// backup-run: one encrypted pg_dump of Lookout's database into BACKUP_DIR.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { jobActor, keepFinished, retrying, type JobType } from '../job-type.js';

export const BACKUP_QUEUE = 'backup';

export const backupRunPayload = z.object({
  /** Absent for scheduler-made jobs: derived from the job id, stable across retries. */
  backupId: z.uuid().optional(),
  trigger: z.enum(['manual', 'scheduler', 'safety']),
  actor: jobActor,
});
export type BackupRunPayload = z.infer<typeof backupRunPayload>;

/** What a run returns; the CLI reads it when it waits (lookout backup run --wait). */
export interface BackupRunResult {
  id: string;
  status: 'succeeded';
  file: string;
  bytes: number;
  sha256: string;
}

export const backupRunJobId = (backupId: string): string => `backup_${backupId}`;

export const backupRun: JobType<typeof backupRunPayload> = {
  name: 'backup-run',
  queue: BACKUP_QUEUE,
  payload: backupRunPayload,
  defaultOptions: {
    ...retrying(3, 10_000),
    ...keepFinished(30, 90, 1000),
  },
  /** Manual runs carry their backup id; scheduler-made jobs have none (BullMQ names them, backupIdForJob derives the row). */
  jobId: (p) => (p.backupId ? backupRunJobId(p.backupId) : undefined),
};

/** A UUID derived from a job id: the same backup row for every retry of that job. */
export function backupIdForJob(jobId: string): string {
  const h = createHash('sha256').update(`lookout-backup:${jobId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
