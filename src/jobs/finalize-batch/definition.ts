// finalize-batch: the parent of a batch's flow; runs once every detect-image
// child has finished (or finally failed) and writes the batch outcome.
import { z } from 'zod';
import { keepFinished, retrying, type JobType } from '../job-type.js';

export const finalizeBatchPayload = z.object({
  batchId: z.uuid(),
  /**
   * A retry by hand reopened the finished batch (src/producers/retry-images.ts):
   * that retry's id. The batch's webhook goes out again for this finish, once
   * per retry (without it, the first finish's webhook job id would make it a no-op).
   */
  reopening: z.uuid().optional(),
});
export type FinalizeBatchPayload = z.infer<typeof finalizeBatchPayload>;

export const finalizeBatchJobId = (batchId: string): string => `batch_${batchId}`;

export const finalizeBatch: JobType<typeof finalizeBatchPayload> = {
  name: 'finalize-batch',
  queue: 'batches',
  payload: finalizeBatchPayload,
  defaultOptions: {
    ...retrying(10, 1000),
    ...keepFinished(1, 7, 10_000),
  },
  jobId: (p) => finalizeBatchJobId(p.batchId),
};
