// S3 blob store (BLOB_STORE=s3): objects <prefix><ab>/<cd>/<sha256> in one
// bucket. Bytes are checked, hashed and counted on the way (metered-stream.ts,
// as in the fs store), and the sha256 is known only once the last byte has
// passed:
//
// - A body of at most one part (PART_BYTES, 5 MiB: S3's smallest part, and
//   what a single PutObject holds in memory anyway) is held until its end and
//   then PUT straight to its content address: one request, atomic, nothing
//   sent before every check has passed.
// - A larger body streams into lib-storage's multipart Upload on a temporary
//   key <prefix>tmp/<uuid> (5 MiB parts, QUEUE_SIZE in flight), is then copied
//   server-side to its content address and the temporary object deleted. A
//   blob already there is not copied again (identical bytes are stored once)
//   unless it is older than FRESH_BLOB_MS, when the copy renews its
//   LastModified: the orphan sweep spares recent blobs only, and a submit is
//   about to use this one. (A direct PUT renews it anyway.)
//
// An upload refused (checkHead, inspectHead), too large, aborted (signal) or
// cut off (the source's error) stops reading, waits for the parts in flight,
// aborts its multipart upload and deletes the temporary object if it was
// completed: nothing of it stays in the bucket. Memory per upload is bounded
// by PART_BYTES × (QUEUE_SIZE + 1) plus stream buffers, whatever its size.

import { randomUUID } from 'node:crypto';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
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

/** The name put() gives a temporary object under <prefix>tmp/. */
const TEMP_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
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

/**
 * `command` (a PutObject of a whole body whose sha256 is `sha256Hex`) sent
 * with that digest instead of the SDK hashing the body again: as its
 * ChecksumSHA256 (the store checks the bytes it received against it and
 * refuses a mismatch, BadDigest, so the content address is verified end to
 * end; the SDK then computes no CRC32 of its own) and as SigV4's payload hash
 * (x-amz-content-sha256, which the signer takes as given when present).
 */
function putWithKnownSha256(command: PutObjectCommand, sha256Hex: string): PutObjectCommand {
  command.input.ChecksumSHA256 = Buffer.from(sha256Hex, 'hex').toString('base64');
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = sha256Hex;
      return next(args);
    },
    { step: 'build', name: 'lookoutKnownPayloadSha256' },
  );
  return command;
}

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

  /**
   * Where put() writes the checked bytes. Up to PART_BYTES are held (what one
   * PutObject would send anyway); past that a multipart Upload to a temporary
   * key starts with them and takes the rest as it comes, at most QUEUE_SIZE
   * parts in flight. Its end waits for the Upload to complete; an Upload that
   * fails destroys it, which ends the pipeline feeding it.
   */
  const uploadSink = () => {
    const tmpKey = `${tmpPrefix}${randomUUID()}`;
    let held: Buffer[] = [];
    let heldBytes = 0;
    let multipart: { body: PassThrough; upload: Upload; done: Promise<unknown> } | undefined;
    const writeOn = (body: PassThrough, chunk: Buffer, done: (err?: Error | null) => void) => {
      if (body.write(chunk)) return done();
      body.once('drain', () => done());
    };
    const writable = new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _encoding, done) {
        if (multipart) return writeOn(multipart.body, chunk, done);
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes <= PART_BYTES) return done();
        const body = new PassThrough({ highWaterMark: 1024 * 1024 });
        const upload = new Upload({
          client,
          params: { Bucket: bucket, Key: tmpKey, Body: body, ContentType: 'application/octet-stream' },
          partSize: PART_BYTES,
          queueSize: QUEUE_SIZE,
          // Aborted by discard(), where its failure can be told apart from the upload's.
          leavePartsOnError: true,
        });
        multipart = { body, upload, done: upload.done() };
        multipart.done.catch((err: unknown) => writable.destroy(err as Error));
        const first = Buffer.concat(held);
        held = [];
        writeOn(body, first, done);
      },
      final(done) {
        if (!multipart) return done();
        multipart.body.end();
        multipart.done.then(
          () => done(),
          (err: Error) => done(err),
        );
      },
      destroy(err, done) {
        multipart?.body.destroy(err ?? undefined);
        done(err);
      },
    });
    return {
      writable,
      tmpKey,
      /** The whole body when it fit in one part (nothing was sent), else undefined (it is at tmpKey). */
      whole: (): Buffer | undefined => (multipart ? undefined : Buffer.concat(held)),
      /** After a failure: waits for the parts in flight, aborts the multipart upload, deletes tmpKey if it was completed. */
      async discard() {
        if (!multipart) return; // nothing was sent
        multipart.body.destroy();
        const completed = await multipart.done.then(
          () => true,
          () => false,
        );
        const { uploadId } = multipart.upload;
        if (uploadId && !completed) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: tmpKey, UploadId: uploadId })).catch((err: unknown) => {
            warn(
              { key: tmpKey, err: (err as Error).message },
              'could not abort a failed multipart upload; its parts stay until the bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them',
            );
          });
        }
        if (completed) await deleteQuietly(tmpKey);
      },
    };
  };

  return {
    location: `s3://${bucket}/${prefix}`,

    async put(source: Readable, putOptions: PutOptions): Promise<StoredBlob> {
      const meter = meteredStream(putOptions);
      const sink = uploadSink();
      try {
        await pipeline(source, meter.transform, sink.writable, ...(putOptions.signal ? [{ signal: putOptions.signal }] : []));
      } catch (err) {
        await sink.discard();
        throw err;
      }
      const sha256 = meter.sha256();
      const finalKey = objectKey(sha256);
      const small = sink.whole();
      if (small) {
        // The sha256 was known before a byte went out: straight to the address. A PUT is atomic, and
        // the same key for the same bytes (a blob already there is only renewed: FRESH_BLOB_MS).
        await client.send(
          putWithKnownSha256(new PutObjectCommand({ Bucket: bucket, Key: finalKey, Body: small, ContentType: 'application/octet-stream' }), sha256),
        );
      } else {
        try {
          const existing = await storedAt(finalKey);
          if (!existing || now().getTime() - existing.getTime() > FRESH_BLOB_MS) {
            await client.send(new CopyObjectCommand({ Bucket: bucket, Key: finalKey, CopySource: copySource(bucket, sink.tmpKey) }));
          }
        } finally {
          await deleteQuietly(sink.tmpKey);
        }
      }
      return { key: sha256, sha256, bytes: meter.bytes() };
    },

    async get(key: string): Promise<Buffer> {
      const Key = objectKey(key);
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        if (!object.Body) throw new BlobNotFoundError(key);
        const bytes = await object.Body.transformToByteArray();
        // A view, not a copy: images are large and the worker reads every one.
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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

    async sweepTemporary(olderThan: Date, options: { dryRun?: boolean } = {}): Promise<SweptTemporary> {
      let removed = 0;
      let bytes = 0;
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: tmpPrefix })) {
        for (const object of page.Contents ?? []) {
          // Only what put() writes there (tmp/<uuid>): any other object under tmp/ is not Lookout's.
          if (!object.Key || !TEMP_NAME.test(object.Key.slice(tmpPrefix.length)) || !object.LastModified || object.LastModified >= olderThan) continue;
          if (!options.dryRun) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
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
