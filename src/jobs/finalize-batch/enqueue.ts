// The producer helper for a batch: one flow, parent finalize-batch on
// `batches`, one detect-image child per image on `detect`.
import type { FlowProducer } from 'bullmq';
import { detectImage, detectImageJobId, type DetectImagePayload } from '../detect-image/definition.js';
import { finalizeBatch, finalizeBatchJobId, type FinalizeBatchPayload } from './definition.js';

export async function enqueueBatchFlow(
  flows: FlowProducer,
  prefix: string,
  batch: { batchId: string; model: string; images: Array<{ imageId: string; blobKey: string }> },
): Promise<void> {
  const parentData: FinalizeBatchPayload = { batchId: batch.batchId };
  await flows.add({
    name: finalizeBatch.name,
    queueName: finalizeBatch.queue,
    prefix,
    data: parentData,
    opts: { ...finalizeBatch.defaultOptions, jobId: finalizeBatchJobId(batch.batchId) },
    children: batch.images.map((img) => {
      const data: DetectImagePayload = { imageId: img.imageId, blobKey: img.blobKey, model: batch.model };
      return {
        name: detectImage.name,
        queueName: detectImage.queue,
        prefix,
        data,
        opts: { ...detectImage.defaultOptions, jobId: detectImageJobId(img.imageId) },
      };
    }),
  });
}
