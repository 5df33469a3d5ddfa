// S3 blob store (BLOB_STORE=s3): objects <prefix><ab>/<cd>/<sha256> in one
// bucket. The sha256 is known only once the last byte has passed, so an
// upload streams (hashed and counted on the way, lib-storage's Upload: one
// PutObject for a body smaller than a part, a multipart upload for a larger
// one) to a temporary key <prefix>tmp/<uuid>, then is copied server-side to
// its content address and the temporary object deleted. A blob already
// stored is not copied again (identical bytes are stored once) unless it is
// older than FRESH_BLOB_MS, when the copy renews its LastModified: the orphan
// sweep spares recent blobs only, and a submit is about to use this one.
//
// An upload refused (checkHead, inspectHead), too large, aborted (signal) or
// cut off (the source's error) stops reading, waits for the parts in flight,
// aborts its multipart upload and deletes the temporary object if there was
// one: nothing of it stays in the bucket. Memory per upload is bounded by
// PART_BYTES × (QUEUE_SIZE + 1), whatever the upload's size.

import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  BlobNotFoundError,
  blobPath,
  FRESH_BLOB_MS,
  isBlobKey,
  keyOfBlobPath,
  type BlobStore,
  type ListedBlob,
  type PutOptions,
  type StoredBlob,
  type SweptTemporary,
} from './blob-store.js';
import { meteredStream } from './metered-stream.js';

/** S3's smallest part (5 MiB): a body up to this size goes up as one PutObject. */
export const PART_BYTES = 5 * 1024 * 1024;
/** Parts of one upload in flight at once. */
const QUEUE_SIZE = 2;

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix: '' or ending in '/' (config.ts normalises S3_PREFIX so). */
  prefix: string;
  /** Told when a cleanup after a failed upload fails (the failure itself is the caller's). Never given credentials. */
  logger?: { warn(details: Record<string, unknown>, message: string): void };
  /** Now, for FRESH_BLOB_MS; tests pass their own. */
  now?: () => Date;
}

/** An S3 error's HTTP status, when the SDK has one. */
const statusOf = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

const isNotFound = (err: unknown): boolean => {
  const name = (err as { name?: string })?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || statusOf(err) === 404;
};

/** A copy source (bucket/key) with the key URL-encoded segment by segment, as CopyObject expects. */
const copySource = (bucket: string, key: string): string => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

/**
 * A blob store in `options.bucket` under `options.prefix`, over `client`
 * (createS3Client). The client stays the caller's: destroy it when done.
 */
export function createS3BlobStore(client: S3Client, options: S3BlobStoreOptions): BlobStore {
  const { bucket, prefix } = options;
  const tmpPrefix = `${prefix}tmp/`;
  const now = options.now ?? (() => new Date());
  const objectKey = (key: string): string => `${prefix}${blobPath(key)}`;
  const warn = (details: Record<string, unknown>, message: string) => options.logger?.warn({ bucket, ...details }, message);

  /** The object's LastModified, or undefined when there is none. */
  const storedAt = async (key: string): Promise<Date | undefined> => {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.LastModified ?? new Date(0);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };

  /** Deletes an object, telling the logger (not the caller) when that fails: the caller has an error of its own to report. */
  const deleteQuietly = async (key: string) => {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch((err: unknown) => {
      warn({ key, err: (err as Error).message }, 'could not delete a temporary upload object; the orphan sweep removes it later');
    });
  };

  return {
    location: `s3://${bucket}/${prefix}`,

    async put(source: Readable, putOptions: PutOptions): Promise<StoredBlob> {
      const tmpKey = `${tmpPrefix}${randomUUID()}`;
      const meter = meteredStream(putOptions);
      // What Upload reads: checked bytes only. Destroyed with the error when
      // the source, a check or the signal fails, which ends the upload.
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: tmpKey, Body: body, ContentType: 'application/octet-stream' },
        partSize: PART_BYTES,
        queueSize: QUEUE_SIZE,
        // Aborted below, where its failure can be told apart from the upload's.
        leavePartsOnError: true,
      });
      const uploading = upload.done();
      // Upload stops reading when it fails: unblock the pipeline feeding it.
      uploading.catch((err: unknown) => body.destroy(err as Error));
      const piping = pipeline(source, meter.transform, body, ...(putOptions.signal ? [{ signal: putOptions.signal }] : []));
      const [piped, uploaded] = await Promise.allSettled([piping, uploading]);
      if (piped.status === 'rejected' || uploaded.status === 'rejected') {
        // Upload has settled: every part in flight has ended, nothing more starts.
        if (upload.uploadId) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: tmpKey, UploadId: upload.uploadId })).catch((err: unknown) => {
            warn(
              { key: tmpKey, err: (err as Error).message },
              'could not abort a failed multipart upload; its parts stay until the bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them',
            );
          });
        }
        // The whole body may have gone up before a late failure (a refused inspectHead on a short file cannot, but a copy can).
        if (uploaded.status === 'fulfilled') await deleteQuietly(tmpKey);
        // The cause, not its echo: the source's or a check's error rather than the Upload that it ended.
        throw piped.status === 'rejected' ? piped.reason : (uploaded as PromiseRejectedResult).reason;
      }
      const sha256 = meter.sha256();
      const finalKey = objectKey(sha256);
      try {
        const existing = await storedAt(finalKey);
        if (!existing || now().getTime() - existing.getTime() > FRESH_BLOB_MS) {
          await client.send(new CopyObjectCommand({ Bucket: bucket, Key: finalKey, CopySource: copySource(bucket, tmpKey) }));
        }
      } finally {
        await deleteQuietly(tmpKey);
      }
      return { key: sha256, sha256, bytes: meter.bytes() };
    },

    async get(key: string): Promise<Buffer> {
      const Key = objectKey(key);
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        if (!object.Body) throw new BlobNotFoundError(key);
        return Buffer.from(await object.Body.transformToByteArray());
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(key);
        throw err;
      }
    },

    async has(key: string): Promise<boolean> {
      return isBlobKey(key) && (await storedAt(objectKey(key))) !== undefined;
    },

    async delete(key: string): Promise<void> {
      // S3 answers 204 for a key with no object too.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },

    async *list(): AsyncIterable<ListedBlob> {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) {
        for (const object of page.Contents ?? []) {
          // Temporary objects, and anything else sharing the prefix, are not blobs.
          const key = object.Key?.startsWith(prefix) ? keyOfBlobPath(object.Key.slice(prefix.length)) : undefined;
          if (key) yield { key, bytes: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
        }
      }
    },

    async sweepTemporary(olderThan: Date): Promise<SweptTemporary> {
      let removed = 0;
      let bytes = 0;
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: tmpPrefix })) {
        for (const object of page.Contents ?? []) {
          if (!object.Key || !object.LastModified || object.LastModified >= olderThan) continue;
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
          removed += 1;
          bytes += object.Size ?? 0;
        }
      }
      return { removed, bytes };
    },

    async check(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        // HeadBucket's errors have no body, so the SDK's message alone is often just "UnknownError".
        const status = statusOf(err);
        const why = status === 404 ? 'no such bucket' : status === 403 ? 'access denied to these credentials' : (err as Error).message;
        throw new Error(`bucket ${bucket} does not answer HeadBucket: ${why} (${(err as Error).name}${status ? `, HTTP ${status}` : ''})`, { cause: err });
      }
    },
  };
}
