// pitr-backup: one pgBackRest backup of the cluster (full, diff or incr),
// catalogued with the other backups (kind pitr). On the pitr queue, which
// only a worker on the database host consumes.
import { z } from 'zod';
import { jobActor, keepFinished, retrying, type JobType } from '../job-type.js';

export const PITR_QUEUE = 'pitr';

export const PITR_BACKUP_TYPES = ['full', 'diff', 'incr'] as const;

export const pitrBackupPayload = z.object({
  /** Absent for scheduler-made jobs: derived from the job id, stable across retries. */
  backupId: z.uuid().optional(),
  type: z.enum(PITR_BACKUP_TYPES),
  trigger: z.enum(['manual', 'scheduler']),
  actor: jobActor,
});
export type PitrBackupPayload = z.infer<typeof pitrBackupPayload>;

/** What a run returns (`lookout pitr backup --json` prints it): times as ISO strings, bytes the repository stored. */
export interface PitrBackupResult {
  id: string;
  status: 'succeeded';
  type: (typeof PITR_BACKUP_TYPES)[number];
  label: string;
  startedAt: string;
  finishedAt: string;
  bytes: number;
}

export const pitrBackupJobId = (backupId: string): string => `pitr_backup_${backupId}`;

export const pitrBackup: JobType<typeof pitrBackupPayload> = {
  name: 'pitr-backup',
  queue: PITR_QUEUE,
  payload: pitrBackupPayload,
  defaultOptions: {
    ...retrying(2, 60_000),
    ...keepFinished(30, 90, 1000),
  },
  jobId: (p) => (p.backupId ? pitrBackupJobId(p.backupId) : undefined),
};
