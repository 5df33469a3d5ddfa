// finalize-batch: the parent of a batch's flow; runs once every detect-image
// child has finished (or finally failed) and writes the batch outcome.
import { z } from 'zod';
import { keepFinished, retrying, type JobType } from '../job-type.js';
import { batchStatusSchema } from '../../wire/batches.js';

export const finalizeBatchPayload = z.object({ batchId: z.uuid() });
export type FinalizeBatchPayload = z.infer<typeof finalizeBatchPayload>;

export const finalizeBatchResult = z.object({
  batchId: z.uuid(),
  status: batchStatusSchema,
  done: z.number().int(),
  failed: z.number().int(),
});

export const finalizeBatch: JobType<typeof finalizeBatchPayload, typeof finalizeBatchResult> = {
  name: 'finalize-batch',
  queue: 'batches',
  payload: finalizeBatchPayload,
  result: finalizeBatchResult,
  defaultOptions: {
    ...retrying(10, 1000),
    ...keepFinished(1, 7, 10_000),
  },
};

export const finalizeBatchJobId = (batchId: string): string => `batch_${batchId}`;
