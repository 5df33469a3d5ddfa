// A submit whose blob was removed while its request was being received is
// refused whole; one whose blobs were not is accepted, and asks the blob store
// nothing to tell (issue 18: one Postgres query instead of a HEAD per image).
//
// The race: a submit stores blob K, and before it inserts its rows a removal
// (a failed submit of the same bytes, a prune, the orphan sweep) takes K,
// which no row referenced yet. The removal is recorded (blob_removals) under
// the lock the insert waits on; the submit compares against the mark it read
// before storing anything. Real Postgres, Redis, fs and S3 (s3rver) stores.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobRemovalMark, BLOB_REMOVALS_KEPT_MS, type BlobRemovalMark } from '../../src/db/repositories/blob-references.js';
import { discardUploadedBlobs, submitBatch } from '../../src/producers/submit-batch.js';
import { removeUnreferencedBlobs } from '../../src/retention/remove-blobs.js';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a blob removed during a submit (fs store)', () => {
  let env: TestEnv;
  let services: Services;
  let n = 0;

  beforeAll(async () => {
    env = await createTestEnv('blob_removals_fs');
    services = await env.open();
  }, 60_000);
  afterAll(async () => env?.cleanup());

  /** Bytes of their own for blob `i`. */
  const bytesOf = async (i: number) => Buffer.concat([await readPhoto('rocket.jpg'), Buffer.from(`blob-removals ${i}`)]);
  const put = async (bytes: Buffer) => (await services.blobs.put(Readable.from([bytes]), { maxBytes: 10_000_000 })).key;
  /** Stores fresh bytes (unique per call) and answers their key. */
  const store = async () => put(await bytesOf(n++));

  let keyId: string;
  beforeAll(async () => {
    await env.key(services, 'submitter');
    keyId = (await env.sql<{ id: string }>('SELECT id FROM api_keys LIMIT 1'))[0]!.id;
  });
  const submitAs = (key: string, mark: BlobRemovalMark) =>
    submitBatch(
      { pool: services.pool, flows: services.flows, blobs: services.blobs, prefix: env.config.queuePrefix, interactiveMaxImages: 0 },
      { actor: 'test', keyId, model: 'yolov8n', minScore: 0.25, files: [{ filename: 'x.jpg', sha256: key, bytes: 1, blobKey: key }], removalMark: mark },
    );

  const batchesWith = async (key: string) => (await env.sql('SELECT 1 FROM images WHERE blob_key = $1', [key])).length;

  it('removed after the submit began (a failed submit of the same bytes): refused, no row written', async () => {
    const mark = await blobRemovalMark(services.pool);
    const key = await store();
    await discardUploadedBlobs({ pool: services.pool, blobs: services.blobs }, [key]); // the other request's cleanup
    expect(await services.blobs.has(key)).toBe(false);
    await expect(submitAs(key, mark)).rejects.toMatchObject({ name: 'QueueUnavailableError', message: expect.stringMatching(/removed at the same time/) });
    expect(await batchesWith(key)).toBe(0);
  });

  it('removed after the submit began by a prune or the orphan sweep: refused', async () => {
    const mark = await blobRemovalMark(services.pool);
    const key = await store();
    const removed = await removeUnreferencedBlobs({ pool: services.pool, blobs: services.blobs, logger: env.logger }, [{ key, bytes: 1 }]);
    expect(removed.blobs).toBe(1);
    await expect(submitAs(key, mark)).rejects.toMatchObject({ name: 'QueueUnavailableError' });
    expect(await batchesWith(key)).toBe(0);
  });

  it('removed before the submit began, then stored again by it: accepted', async () => {
    const bytes = await bytesOf(n++);
    const key = await put(bytes);
    await discardUploadedBlobs({ pool: services.pool, blobs: services.blobs }, [key]);
    expect(await services.blobs.has(key)).toBe(false);
    const mark = await blobRemovalMark(services.pool);
    expect(await put(bytes)).toBe(key);
    const batch = await submitAs(key, mark);
    expect(batch.images).toHaveLength(1);
    expect(await batchesWith(key)).toBe(1);
  });

  it('another blob removed meanwhile: accepted', async () => {
    const mark = await blobRemovalMark(services.pool);
    const mine = await store();
    const other = await store();
    await discardUploadedBlobs({ pool: services.pool, blobs: services.blobs }, [other]);
    await submitAs(mine, mark);
    expect(await batchesWith(mine)).toBe(1);
  });

  it('a request older than removals are kept: the blob store is asked instead (present: accepted; gone: refused)', async () => {
    const old = { ...(await blobRemovalMark(services.pool)), at: new Date(Date.now() - BLOB_REMOVALS_KEPT_MS - 60_000) };
    const present = await store();
    await submitAs(present, old);
    expect(await batchesWith(present)).toBe(1);
    // Gone without a record (as if its removal had been forgotten): only the store can tell.
    const gone = await store();
    await services.blobs.delete(gone);
    await expect(submitAs(gone, old)).rejects.toMatchObject({ name: 'QueueUnavailableError' });
  });

  it('removals are forgotten after BLOB_REMOVALS_KEPT_MS', async () => {
    await env.sql(`UPDATE blob_removals SET removed_at = now() - interval '25 hours'`);
    const before = (await env.sql<{ n: string }>('SELECT count(*)::text AS n FROM blob_removals'))[0]!.n;
    expect(Number(before)).toBeGreaterThan(0);
    await discardUploadedBlobs({ pool: services.pool, blobs: services.blobs }, [await store()]);
    expect(await env.sql('SELECT 1 FROM blob_removals')).toHaveLength(1);
  });
});

describe('an upload to the S3 store: one PutObject per image, nothing else asked', () => {
  let s3: TestS3Server;
  let proxy: S3Proxy;
  let env: TestEnv;

  beforeAll(async () => {
    s3 = await startS3Server(['removals-store']);
    proxy = await startS3Proxy(s3.endpoint);
    env = await createTestEnv('blob_removals_s3', s3.env('removals-store', 'blobs/'));
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
    await proxy?.close();
    await s3?.close();
  });

  it(
    'the API process sends each photo once, as a PutObject to its content address carrying the body’s real sha256; no HeadObject',
    { timeout: 120_000 },
    async () => {
      // The API's S3 traffic through the proxy; the worker's straight to the server.
      const apiServices = await env.open((c) => ({ ...c, s3: { ...c.s3, endpoint: proxy.endpoint } }));
      const { url } = await env.api(apiServices);
      const key = await env.key(apiServices, 'submitter');
      await env.worker(await env.open(), { concurrency: 2 });
      const photos = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
      const before = proxy.seen.length;
      const { status, body } = await submit(url, key, photos);
      expect(status, JSON.stringify(body)).toBe(202);
      expect(await waitForBatch(url, key, body.id, 90_000)).toMatchObject({ status: 'completed', progress: { done: 6, failed: 0 } });
      const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as Record<string, any>;
      expect(results.images).toHaveLength(6);

      const requests = proxy.seen.slice(before).filter((r) => r.path.startsWith('/removals-store/'));
      expect(requests.map((r) => r.method)).toEqual(Array(6).fill('PUT'));
      for (const { bytes } of photos) {
        const digest = sha256(bytes);
        const put = requests.find((r) => r.path === `/removals-store/blobs/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest}`);
        expect(put, digest).toBeDefined();
        // What the store checks the body against (real S3: BadDigest on a mismatch) and what SigV4 signs.
        expect(put!.bodySha256).toBe(digest);
        expect(put!.headers['x-amz-checksum-sha256']).toBe(Buffer.from(digest, 'hex').toString('base64'));
        expect(put!.headers['x-amz-content-sha256']).toBe(digest);
      }
    },
  );
});
