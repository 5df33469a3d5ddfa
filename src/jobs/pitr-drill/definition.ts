// pitr-drill: restore the archive's latest point into a scratch directory,
// check it, record RPO and RTO on the restored backup's catalogue row, remove
// it. Weekly by default (PITR_DRILL_CRON); `lookout pitr drill` runs one now.
import { z } from 'zod';
import { jobActor, keepFinished, type JobType } from '../job-type.js';
import { PITR_QUEUE } from '../pitr-backup/definition.js';

export const pitrDrillPayload = z.object({
  /** Manual drills carry one, for their job id; scheduler-made jobs have none. */
  drillId: z.uuid().optional(),
  trigger: z.enum(['manual', 'scheduler']),
  actor: jobActor,
});
export type PitrDrillPayload = z.infer<typeof pitrDrillPayload>;

/** What a drill returns (`lookout pitr drill --json`): the catalogue row it recorded on, RPO and RTO in seconds. */
export interface PitrDrillResult {
  id: string;
  label: string;
  status: 'verified';
  target: string;
  lastArchivedAt: string | null;
  rpoSeconds: number | null;
  rtoSeconds: number;
  recoveredTo: string | null;
  indexesChecked: number;
  rowCounts: Record<string, number>;
}

export const pitrDrill: JobType<typeof pitrDrillPayload> = {
  name: 'pitr-drill',
  queue: PITR_QUEUE,
  payload: pitrDrillPayload,
  // A drill is a measurement: a failed one is recorded (verify_failed, audited) and the next one runs on schedule.
  defaultOptions: { attempts: 1, ...keepFinished(30, 90, 200) },
  jobId: (p) => (p.drillId ? `pitr_drill_${p.drillId}` : undefined),
};
