// Closes a batch from what Postgres says about its images (finishBatch: the
// status, the audit row, the webhook).
import { UnrecoverableError, type Job } from 'bullmq';
import { annotateSpan } from '../../tracing/spans.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { finalizeBatch } from './definition.js';
import { finishBatch, type FinishBatchDeps } from './finish-batch.js';

export function createFinalizeBatchHandler(deps: FinishBatchDeps): JobHandler {
  return async function handleFinalizeBatch(job: Job) {
    const { batchId, reopening } = parsePayload(finalizeBatch, job);
    annotateSpan({ 'lookout.batch.id': batchId });
    const batch = await finishBatch(deps, batchId, 'system', reopening);
    if (!batch) throw new UnrecoverableError(`batch ${batchId} does not exist`);
    annotateSpan({
      'lookout.batch.status': batch.status,
      'lookout.batch.images_done': batch.progress.done,
      'lookout.batch.images_failed': batch.progress.failed,
    });
    return { batchId, status: batch.status, done: batch.progress.done, failed: batch.progress.failed };
  };
}
