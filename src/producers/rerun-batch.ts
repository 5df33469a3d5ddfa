// A re-run (POST /v1/batches/:id/rerun): a new batch over the same images,
// perhaps with another model or threshold, submitted through submitBatch
// like any other (rows, flow, fair share, audit: rerunOf names the source
// batch) with what rerunFiles lists, nothing uploaded: an
// uploaded image by its blob key (the blob is content-addressed, so the new
// row shares it), an image submitted by reference by its s3:// URL again.
// The cache rules are the worker's, unchanged: the same bytes, model and
// threshold as an answered image are answered from it.
import pLimit from 'p-limit';
import { batchImageSources } from '../db/repositories/images.js';
import type { SubmitBatchDeps } from './submit-batch.js';

/** How many blob presence checks a re-run has in flight at once (an S3 store pays a HEAD each). */
const CHECKS_IN_FLIGHT = 16;

/** Some of the batch's uploaded images are no longer in the blob store: nothing was submitted. */
export class RerunBlobsGoneError extends Error {
  override name = 'RerunBlobsGoneError';
  constructor(
    readonly batchId: string,
    /** The file names of the images whose blobs are gone, in the batch's order. */
    readonly filenames: readonly string[],
  ) {
    const shown = filenames.slice(0, 5).join(', ') + (filenames.length > 5 ? ` and ${filenames.length - 5} more` : '');
    super(
      `${filenames.length} image${filenames.length === 1 ? '' : 's'} of batch ${batchId} ${filenames.length === 1 ? 'is' : 'are'} no longer stored (their blobs were removed): ${shown}; submit them again instead`,
    );
  }
}

/** A batch's images as a re-run submits them, by blob key or by reference: what submitBatch takes. */
export type RerunFiles = Array<{ filename: string; sha256: string | null; bytes: number; blobKey: string | null; sourceUrl?: string }>;

/**
 * The images of batch `batchId` as a re-run submits them, in its order,
 * each uploaded one's blob checked present.
 * @throws RerunBlobsGoneError when a blob is gone (nothing submitted)
 */
export async function rerunFiles(deps: Pick<SubmitBatchDeps, 'pool' | 'blobs'>, batchId: string): Promise<RerunFiles> {
  const images = await batchImageSources(deps.pool, batchId);
  const keys = [...new Set(images.flatMap((img) => (img.blobKey ? [img.blobKey] : [])))];
  const limit = pLimit(CHECKS_IN_FLIGHT);
  const present = await Promise.all(keys.map((key) => limit(() => deps.blobs.has(key))));
  const gone = new Set(keys.filter((_, i) => !present[i]));
  if (gone.size > 0) {
    throw new RerunBlobsGoneError(
      batchId,
      images.filter((img) => img.blobKey && gone.has(img.blobKey)).map((img) => img.filename),
    );
  }
  return images.map((img) =>
    img.blobKey
      ? { filename: img.filename, sha256: img.sha256, bytes: img.bytes, blobKey: img.blobKey }
      : // By reference: its object may have changed since; the worker reads and hashes it again.
        { filename: img.filename, sha256: null, bytes: img.bytes, blobKey: null, sourceUrl: img.sourceUrl! },
  );
}
