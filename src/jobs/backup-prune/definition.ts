// backup-prune: applies the retention policy.
import { z } from 'zod';
import { jobActor, retrying, type JobType } from '../job-type.js';
import { BACKUP_QUEUE } from '../backup-run/definition.js';

export const backupPrunePayload = z.object({ actor: jobActor });

export const backupPrune: JobType<typeof backupPrunePayload> = {
  name: 'backup-prune',
  queue: BACKUP_QUEUE,
  payload: backupPrunePayload,
  defaultOptions: { ...retrying(3, 10_000), removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
};
