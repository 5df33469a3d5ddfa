// Closes a batch from what Postgres says about its images, and audits the outcome.
import { UnrecoverableError, type Job } from 'bullmq';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { finalizeBatch as finalizeBatchRow } from '../../db/repositories/batches.js';
import type { Pool } from '../../db/pool.js';
import type { Queue } from 'bullmq';
import { webhook, type WebhookPayload } from '../webhook/definition.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { finalizeBatch } from './definition.js';

export function createFinalizeBatchHandler(deps: { pool: Pool; queues: ReadonlyMap<string, Queue> }): JobHandler {
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
    if (batch.webhookUrl) {
      const data: WebhookPayload = {
        url: batch.webhookUrl,
        event: 'batch.finished',
        body: { event: 'batch.finished', batch: { id: batch.id, status: batch.status, progress: batch.progress, createdAt: batch.createdAt, finishedAt: batch.finishedAt } },
        signWith: 'batches',
      };
      await deps.queues.get(webhook.queue)!.add(webhook.name, data, { ...webhook.defaultOptions, jobId: `batch_webhook_${batch.id}` });
    }
    return { batchId, status: batch.status, done: batch.progress.done, failed: batch.progress.failed };
  };
}
