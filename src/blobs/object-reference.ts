// Images submitted by reference: `s3://BUCKET/KEY` names an object in the
// user's own bucket. The API only checks it (HeadObject: there, readable, not
// too large); a worker reads its bytes straight from the bucket
// (GetObject). Lookout never writes or deletes such an object: it is the
// user's. Which buckets may be named is SUBMIT_S3_BUCKETS.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { BlobTooLargeError } from './blob-store.js';

/** A parsed s3:// URL. */
export interface ObjectReference {
  bucket: string;
  key: string;
}

/** The URL is not an s3://BUCKET/KEY this server accepts; `code` says why (API: 400 or 403). */
export class ReferenceRefusedError extends Error {
  override name = 'ReferenceRefusedError';
  constructor(
    readonly code: 'invalid_reference' | 'bucket_not_allowed' | 'object_not_found' | 'object_unreadable' | 'too_large' | 'empty_input',
    message: string,
  ) {
    super(message);
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses `s3://BUCKET/KEY` (the key as S3 stores it: the rest of the URL
 * after the bucket's slash, not percent-decoded, 1..1,024 bytes).
 * @throws ReferenceRefusedError invalid_reference for anything else (other
 *   schemes, no key, a bad bucket name)
 */
export function parseS3Url(url: string): ObjectReference {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m || !BUCKET.test(m[1]!)) throw new ReferenceRefusedError('invalid_reference', `expected s3://BUCKET/KEY, got "${url.slice(0, 200)}"`);
  const key = m[2]!;
  if (Buffer.byteLength(key) > 1024) throw new ReferenceRefusedError('invalid_reference', 'an S3 key is at most 1,024 bytes');
  // A store or proxy that normalises paths would read "a/../b" as "b": no such segments, so a key means what it says.
  if (key.split('/').some((part) => part === '.' || part === '..'))
    throw new ReferenceRefusedError('invalid_reference', 'an S3 key here has no . or .. segments');
  return { bucket: m[1]!, key };
}

/** The S3 endpoint did not answer a check as 200, 403 or 404 (down, 5xx, an unexpected 4xx): API 503 object_store_unavailable. */
export class ObjectStoreUnavailableError extends Error {
  override name = 'ObjectStoreUnavailableError';
}

function describeS3Error(err: unknown): string {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return `${(err as Error).name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}`;
}

/** `s3://BUCKET/KEY` of a reference. */
export const s3Url = (ref: ObjectReference): string => `s3://${ref.bucket}/${ref.key}`;

const statusOf = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/**
 * Checks a referenced object without reading it (HeadObject): its size in
 * bytes when it is there and at most `maxBytes`.
 * @throws ReferenceRefusedError object_not_found (404), object_unreadable
 *   (403: these credentials may not read it), too_large
 * @throws the SDK's error for anything else (the bucket's endpoint away)
 */
export async function headReference(s3: S3Client, ref: ObjectReference, maxBytes: number): Promise<number> {
  let size: number;
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    size = head.ContentLength ?? 0;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) throw new ReferenceRefusedError('object_not_found', `${s3Url(ref)}: no such object`);
    if (status === 403) throw new ReferenceRefusedError('object_unreadable', `${s3Url(ref)}: this server's credentials may not read it`);
    throw new ObjectStoreUnavailableError(`${s3Url(ref)}: HeadObject failed: ${describeS3Error(err)}`, { cause: err });
  }
  if (size > maxBytes) throw new ReferenceRefusedError('too_large', `${s3Url(ref)}: ${size} bytes, more than ${maxBytes}`);
  if (size === 0) throw new ReferenceRefusedError('empty_input', `${s3Url(ref)}: an empty object`);
  return size;
}

/**
 * Reads a referenced object's bytes (GetObject), at most `maxBytes`: the
 * object may have changed since it was checked.
 * @throws ReferenceRefusedError object_not_found, object_unreadable
 * @throws BlobTooLargeError past maxBytes (the download is cut off there)
 * @throws the SDK's error for anything else (retryable: the endpoint away)
 */
export async function readReference(s3: S3Client, ref: ObjectReference, maxBytes: number): Promise<Buffer> {
  let body: Readable;
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    body = got.Body as Readable;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) throw new ReferenceRefusedError('object_not_found', `${s3Url(ref)}: no such object`);
    if (status === 403) throw new ReferenceRefusedError('object_unreadable', `${s3Url(ref)}: this server's credentials may not read it`);
    throw err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      body.destroy();
      throw new BlobTooLargeError(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}
