// Where uploaded image bytes live, addressed by their sha256. Two drivers:
// the filesystem (BLOB_STORE=fs, the default: one machine or a shared volume)
// and S3 (BLOB_STORE=s3: a bucket, so that hosts share nothing but Redis,
// Postgres and the bucket). Both lay blobs out as <ab>/<cd>/<sha256> and write
// each upload under a temporary name first, so that only whole, hashed blobs
// ever carry a content address.

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

/** One stored blob, as list() reports it. */
export interface ListedBlob {
  /** The content address (sha256, hex). */
  key: string;
  bytes: number;
  /** When the blob was last written: the filesystem's mtime, the object's LastModified. */
  modifiedAt: Date;
}

/** What sweepTemporary() removed. */
export interface SweptTemporary {
  /** Temporary files or objects removed. */
  removed: number;
  /** Their size, in bytes. */
  bytes: number;
}

export interface BlobStore {
  /**
   * Streams bytes in, hashing and counting while writing; nothing large is
   * buffered. Resolves once the blob is stored under its sha256. Rejects
   * (BlobTooLargeError, what checkHead or inspectHead threw, the source's
   * error, an AbortError from the signal, the store's own error) leaving no
   * blob of this upload behind.
   */
  put(source: Readable, options: PutOptions): Promise<StoredBlob>;
  /** The whole blob. @throws BlobNotFoundError when there is none (or the key is not a sha256). */
  get(key: string): Promise<Buffer>;
  has(key: string): Promise<boolean>;
  /** Removes the blob; a key with no blob is not an error. The caller checks that nothing references it. */
  delete(key: string): Promise<void>;
  /**
   * Every content-addressed blob, in no particular order, for retention and
   * the orphan sweep. Uploads in flight and leftovers of interrupted ones
   * are not blobs: they are never listed (see sweepTemporary). A blob an
   * upload has just been answered with was written within the last
   * FRESH_BLOB_MS at most, so a sweep that spares blobs modified within the
   * last hour never takes one a submit is about to use.
   */
  list(): AsyncIterable<ListedBlob>;
  /**
   * Removes what interrupted uploads left under their temporary names (a
   * process killed mid-upload) when last written before `olderThan`, and
   * answers how many and how many bytes (with `dryRun`, only counts them). An upload in flight keeps writing
   * its temporary file (fs) or holds a temporary object only for the moment
   * between its last part and the copy to its content address (s3), so a
   * cut-off an hour back never takes one. Multipart uploads S3 never
   * completed are not objects: a bucket lifecycle rule
   * (AbortIncompleteMultipartUpload) removes their parts.
   */
  sweepTemporary(olderThan: Date, options?: { dryRun?: boolean }): Promise<SweptTemporary>;
  /** Proves the store answers (S3: HeadBucket with this process's credentials). @throws the store's error */
  check(): Promise<void>;
  /** Where the blobs are, for logs and health messages (a directory, s3://bucket/prefix). Never a credential. */
  readonly location: string;
}

/**
 * How old a blob found already stored may be and still be returned by put()
 * as it is; an older one is written again, which renews its modification
 * time. A sweep of unreferenced blobs must spare at least this much, plus the
 * time from an upload's end to its batch's insert (an hour is plenty).
 */
export const FRESH_BLOB_MS = 30 * 60 * 1000;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Whether `key` is a content address (a sha256 in lowercase hex). */
export const isBlobKey = (key: string): boolean => SHA256_HEX.test(key);

/** The relative path or object key of a blob: `<ab>/<cd>/<sha256>`. @throws BlobNotFoundError when `key` is not a sha256 */
export function blobPath(key: string): string {
  if (!isBlobKey(key)) throw new BlobNotFoundError(key);
  return `${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`;
}

/** The key of a relative path `<ab>/<cd>/<sha256>` (with `/` separators), or undefined when it is not one. */
export function keyOfBlobPath(relative: string): string | undefined {
  const m = /^([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(relative);
  if (!m || m[3]!.slice(0, 2) !== m[1] || m[3]!.slice(2, 4) !== m[2]) return undefined;
  return m[3];
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
