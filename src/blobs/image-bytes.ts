// An image's bytes, wherever they are: its blob (uploaded) or the object it
// names (submitted by reference, read from the user's bucket).
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from './blob-store.js';
import { parseS3Url, readReference } from './object-reference.js';

/** Where an image's bytes are: exactly one of the two is set (images_blob_or_source). */
export interface ImageBytesSource {
  blobKey: string | null;
  sourceUrl: string | null;
}

/**
 * Reads an image's bytes: its blob, or its referenced object (at most
 * `maxBytes`, through `s3()`, the process's S3 client, made on first use).
 * @throws BlobNotFoundError (a blob), ReferenceRefusedError (a reference:
 *   gone, unreadable), BlobTooLargeError, or the store's error
 */
export async function readImageBytes(deps: { blobs: BlobStore; s3: () => S3Client }, image: ImageBytesSource, maxBytes: number): Promise<Buffer> {
  if (image.blobKey) return deps.blobs.get(image.blobKey);
  if (image.sourceUrl) return readReference(deps.s3(), parseS3Url(image.sourceUrl), maxBytes);
  throw new Error('an image with neither a blob nor a source');
}
