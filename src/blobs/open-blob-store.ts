// The blob store a process uses, from configuration: BLOB_STORE=fs opens
// BLOB_DIR (created on the first upload), BLOB_STORE=s3 the bucket over an S3
// client made here (and destroyed by close()). With s3, BLOB_DIR is not even
// in the configuration, so no process touches it.

import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.js';
import type { BlobStore } from './blob-store.js';
import { createFsBlobStore } from './fs-blob-store.js';
import { createS3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js';
import { createS3Client } from './s3-client.js';

export interface OpenedBlobStore {
  blobs: BlobStore;
  /** The S3 client the store uses (BLOB_STORE=s3), for whatever else reads from S3 in this process; undefined with fs. */
  s3: S3Client | undefined;
  /** Closes the S3 client's sockets (nothing to close for fs). */
  close(): void;
}

/** Opens the configured blob store; opens no connection yet (the first request does). */
export function openBlobStore(config: Pick<Config, 'blobs' | 's3'>, logger?: S3BlobStoreOptions['logger']): OpenedBlobStore {
  if (config.blobs.store === 'fs') return { blobs: createFsBlobStore(config.blobs.dir), s3: undefined, close: () => undefined };
  const s3 = createS3Client(config.s3);
  return {
    blobs: createS3BlobStore(s3, { bucket: config.blobs.bucket, prefix: config.blobs.prefix, ...(logger ? { logger } : {}) }),
    s3,
    close: () => s3.destroy(),
  };
}
