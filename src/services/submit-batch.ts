// Submitting a batch: the rows first (Postgres is the source of truth), then
// the flow; if Redis refuses the flow the rows are removed again so nothing
// half-submitted remains. Audited with the actor.

import { randomUUID } from 'node:crypto';
import type { FlowProducer } from 'bullmq';
import { appendAudit } from '../db/repositories/audit-log.js';
import { insertBatch } from '../db/repositories/batches.js';
import { insertImages } from '../db/repositories/images.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { enqueueBatchFlow } from '../jobs/finalize-batch/enqueue.js';

export interface SubmittedImage {
  id: string;
  filename: string;
  sha256: string;
  bytes: number;
}

export interface SubmitBatchInput {
  actor: string;
  model: string;
  minScore: number;
  /** Checked by the caller (checkWebhookTarget). */
  webhookUrl?: string;
  files: Array<{ filename: string; sha256: string; bytes: number; blobKey: string }>;
}

export async function submitBatch(
  deps: { pool: Pool; flows: FlowProducer; prefix: string },
  input: SubmitBatchInput,
): Promise<{ id: string; images: SubmittedImage[] }> {
  const batchId = randomUUID();
  const images = input.files.map((f, position) => ({ ...f, id: randomUUID(), position }));
  await withTransaction(deps.pool, async (db) => {
    await insertBatch(db, { id: batchId, model: input.model, minScore: input.minScore, total: images.length, createdBy: input.actor, webhookUrl: input.webhookUrl ?? null });
    await insertImages(db, batchId, input.model, input.minScore, images);
  });
  try {
    await enqueueBatchFlow(deps.flows, deps.prefix, {
      batchId,
      model: input.model,
      images: images.map((img) => ({ imageId: img.id, blobKey: img.blobKey })),
    });
  } catch (err) {
    await deps.pool.query('DELETE FROM batches WHERE id = $1', [batchId]).catch(() => undefined);
    await appendAudit(deps.pool, { actor: input.actor, action: 'batch.submit', target: batchId, outcome: 'error', details: { reason: 'queue unavailable' } }).catch(() => undefined);
    throw Object.assign(new Error(`could not enqueue the batch: ${(err as Error).message}`), { queueUnavailable: true });
  }
  await appendAudit(deps.pool, {
    actor: input.actor,
    action: 'batch.submit',
    target: batchId,
    details: { images: images.length, model: input.model, minScore: input.minScore },
  });
  return { id: batchId, images: images.map(({ id, filename, sha256, bytes }) => ({ id, filename, sha256, bytes })) };
}
