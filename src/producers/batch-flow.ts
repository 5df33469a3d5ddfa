// A batch on the queues: one flow, parent finalize-batch on `batches`, one
// detect-image child per image on `detect`. Used by batch submission and by
// the reconciler when a batch's parent job was lost.
import type { FlowProducer } from 'bullmq';
import { detectImage } from '../jobs/detect-image/definition.js';
import { enqueueFlow, flowStep } from '../jobs/enqueue.js';
import { finalizeBatch } from '../jobs/finalize-batch/definition.js';

export async function enqueueBatchFlow(
  flows: FlowProducer,
  prefix: string,
  batch: { batchId: string; model: string; images: Array<{ imageId: string; blobKey: string }> },
): Promise<void> {
  const children = batch.images.map((img) => flowStep(detectImage, { imageId: img.imageId, blobKey: img.blobKey, model: batch.model }));
  await enqueueFlow(flows, prefix, flowStep(finalizeBatch, { batchId: batch.batchId }, children));
}
