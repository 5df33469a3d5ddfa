// Where uploaded image bytes live, addressed by their sha256. The filesystem
// driver is the default (a shared volume in compose and Kubernetes); an S3
// driver implements the same interface.

import type { Readable } from 'node:stream';

export interface StoredBlob {
  /** The content address: the sha256 of the bytes, hex. */
  key: string;
  sha256: string;
  bytes: number;
}

export interface PutOptions {
  /** Abort (and store nothing) once the stream passes this many bytes. */
  maxBytes: number;
  /** Sees the first bytes before anything is kept; throw to refuse the upload. */
  checkHead?: (head: Buffer) => void;
  /** Sees up to the first 64 KiB (the whole file when smaller) before the rest is kept; reject to refuse. */
  inspectHead?: (head: Buffer) => Promise<void>;
  /** Aborting stops the write and removes what was written. */
  signal?: AbortSignal;
}

export interface BlobStore {
  /** Streams bytes in, hashing while writing; nothing large is buffered. */
  put(source: Readable, options: PutOptions): Promise<StoredBlob>;
  get(key: string): Promise<Buffer>;
  has(key: string): Promise<boolean>;
  /** Removes the blob; a key with no blob is not an error. The caller checks that nothing references it. */
  delete(key: string): Promise<void>;
  /**
   * Every blob in the store, in no particular order, streamed (never the whole
   * listing in memory): its key (as put returned it, so it can be compared with
   * image rows and passed to delete), its size in bytes, and when it was last
   * written (an upload of bytes already stored writes it again). The orphan
   * sweep (src/retention) reads it; blobs removed while it runs may or may not
   * be yielded, and nothing but blobs is (no temp files, no foreign objects).
   */
  list(): AsyncIterable<{ key: string; bytes: number; modifiedAt: Date }>;
  /**
   * Removes what uploads left behind that is not a blob (the filesystem
   * store's temp files of cut-off uploads; an S3 store's unfinished multipart
   * uploads, where it implements this) last written before `olderThan`; with
   * `dryRun`, only counts them. Optional: a store without leftovers has none.
   */
  sweepTemporary?(options: { olderThan: Date; dryRun: boolean }): Promise<{ files: number; bytes: number }>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`more than ${maxBytes} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`blob ${key} not found`);
    this.name = 'BlobNotFoundError';
  }
}
