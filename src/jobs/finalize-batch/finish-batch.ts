// Closing a batch, once, wherever it happens: the finalize-batch job (its
// flow's parent, after every image) and the reconciler (a batch whose parent
// job was lost). The status comes from the image counts (repository
// finalizeBatch), the outcome is audited, and the batch's webhook, if it has
// one, goes on the notify queue.
//
// A batch the reconciler finalises sends its webhook too: the client asked to
// hear when its batch finished, and a lost parent job is the queue's fault,
// not a reason to stay silent. The webhook's job id (batch_webhook_<batch id>)
// makes it at most one while the notify queue keeps the job, should the
// finalize job have sent it before its record was lost.
import type { Pool } from '../../db/pool.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { finalizeBatch as finalizeBatchRow, type BatchView } from '../../db/repositories/batches.js';
import { enqueue, type Queues } from '../enqueue.js';
import { webhook } from '../webhook/definition.js';

export interface FinishBatchDeps {
  pool: Pool;
  /** Where the batch's webhook goes (the notify queue). */
  queues: Queues;
}

/**
 * Sets the batch's final status from its images, audits it as `by` (the
 * finalize job's 'system', or 'reconciler', whose row says reconciled) and
 * enqueues its webhook. `reopening`: the retry by hand that reopened the
 * batch (the finalize job's payload), whose finish sends the webhook again.
 * Returns the batch, or undefined when it does not exist.
 */
export async function finishBatch(deps: FinishBatchDeps, batchId: string, by: 'system' | 'reconciler', reopening?: string): Promise<BatchView | undefined> {
  const batch = await finalizeBatchRow(deps.pool, batchId);
  if (!batch) return undefined;
  await appendAudit(deps.pool, {
    actor: by,
    action: 'batch.finished',
    target: batchId,
    outcome: batch.status === 'completed' ? 'ok' : 'error',
    details: {
      status: batch.status,
      ...batch.progress,
      ...(by === 'reconciler' ? { reconciled: true } : {}),
      ...(reopening ? { reopening } : {}),
    },
  });
  if (batch.webhookUrl) {
    const body = {
      event: 'batch.finished',
      batch: { id: batch.id, status: batch.status, progress: batch.progress, createdAt: batch.createdAt, finishedAt: batch.finishedAt },
    };
    await enqueue(
      deps.queues,
      webhook,
      { url: batch.webhookUrl, event: 'batch.finished', body, signWith: 'batches' },
      {
        occasion: reopening ? `${batch.id}_retry_${reopening}` : batch.id,
      },
    );
  }
  return batch;
}
