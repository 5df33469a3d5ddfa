// retention-prune: the daily prune of finished batches older than
// RETENTION_DAYS, their images, detections and blobs, and the orphan sweep
// (src/retention/prune.ts). On the backup queue: one at a time per process,
// never beside a restore in the same worker, and scheduled after the nightly
// backup, so what it deletes is in last night's backup.
import { z } from 'zod';
import { BACKUP_QUEUE } from '../backup-run/definition.js';
import { jobActor, retrying, type JobType } from '../job-type.js';

export const retentionPrunePayload = z.object({
  actor: jobActor,
  /** Batches finished more than this many days ago go (RETENTION_DAYS when scheduled). */
  olderThanDays: z.number().min(0).max(36_500),
});
export type RetentionPrunePayload = z.infer<typeof retentionPrunePayload>;

export const retentionPrune: JobType<typeof retentionPrunePayload> = {
  name: 'retention-prune',
  queue: BACKUP_QUEUE,
  payload: retentionPrunePayload,
  // A retry resumes where the failed run stopped: every chunk it committed stays pruned.
  defaultOptions: { ...retrying(3, 60_000), removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
};
