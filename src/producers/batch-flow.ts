// A batch on the queues: one flow, parent finalize-batch on `batches`, one
// detect-image child per image on `detect`, each with its priority (its lane
// and its key's fair share, fair-share.ts). Used by batch submission, by
// the reconciler when a batch's parent job was lost, and by a retry by hand
// of failed images (their finished batch reopened: `reopening`).
import type { FlowProducer } from 'bullmq';
import type { ImageBytesSource } from '../blobs/image-bytes.js';
import { bytesSource, detectImage, detectImageJobId } from '../jobs/detect-image/definition.js';
import { enqueueFlow, flowStep } from '../jobs/enqueue.js';
import { finalizeBatch } from '../jobs/finalize-batch/definition.js';
import { confirmAdded, type Priorities } from './fair-share.js';

export async function enqueueBatchFlow(
  flows: FlowProducer,
  prefix: string,
  batch: { batchId: string; model: string; images: Array<{ imageId: string } & ImageBytesSource>; priorities: Priorities; reopening?: string },
): Promise<void> {
  const children = batch.images.map((img, i) =>
    flowStep(detectImage, { imageId: img.imageId, ...bytesSource(img), model: batch.model, lane: batch.priorities.lane }, [], {
      priority: batch.priorities.of(i),
    }),
  );
  await enqueueFlow(flows, prefix, flowStep(finalizeBatch, { batchId: batch.batchId, ...(batch.reopening ? { reopening: batch.reopening } : {}) }, children));
  await confirmAdded(
    flows,
    prefix,
    batch.priorities,
    batch.images.map((img) => detectImageJobId(img.imageId)),
  );
}
