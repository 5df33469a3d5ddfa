// Closes a batch from what Postgres says about its images, and audits the outcome.
import { UnrecoverableError, type Job } from 'bullmq';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { finalizeBatch as finalizeBatchRow } from '../../db/repositories/batches.js';
import type { Pool } from '../../db/pool.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { finalizeBatch } from './definition.js';

export function createFinalizeBatchHandler(deps: { pool: Pool }): JobHandler {
  return async function handleFinalizeBatch(job: Job) {
    const { batchId } = parsePayload(finalizeBatch, job);
    const batch = await finalizeBatchRow(deps.pool, batchId);
    if (!batch) throw new UnrecoverableError(`batch ${batchId} does not exist`);
    await appendAudit(deps.pool, {
      actor: 'system',
      action: 'batch.finished',
      target: batchId,
      outcome: batch.status === 'completed' ? 'ok' : 'error',
      details: { status: batch.status, ...batch.progress },
    });
    return { batchId, status: batch.status, done: batch.progress.done, failed: batch.progress.failed };
  };
}
