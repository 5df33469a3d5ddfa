// Submit by reference (issue 18): the six photos sit in the user's own bucket
// and are submitted as s3:// URLs. The API checks each object with HeadObject
// and never reads it: its S3 traffic goes through a counting proxy, and the
// proxy sees no GET of a referenced object from it. The worker (with its own
// S3 client, straight to the server) reads the bytes, computes the sha256 and
// answers; nothing is copied into the blob store; a bucket not listed in
// SUBMIT_S3_BUCKETS is refused; the same objects again are answered from the
// cache; prune never deletes them. Real S3 protocol server (s3rver on
// 127.0.0.1), Redis, Postgres and model.
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBlobStore } from '../../src/blobs/open-blob-store.js';
import { prune } from '../../src/retention/prune.js';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, EXPECTED_FACES, readPhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/run-cli.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { authed, createTestEnv, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const STORE = 'lookout-store';
const PHOTOS = 'user-photos';
const ELSEWHERE = 'not-listed-bucket';
/** What the user's bucket holds, before and after. */
const USER_OBJECTS = [...ALL_PHOTOS.map((n) => `incoming/${n}`), 'incoming/empty.png', 'incoming/explodes.png'].sort();

let s3: TestS3Server;
let env: TestEnv;
let apiServices: Services;
let workerServices: Services;
let url: string;
let key: string;
let proxy: S3Proxy;
/** Every request the API's S3 client made (through the proxy). */
const seen = () => proxy.seen;

async function submitJson(body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}/v1/batches`, {
    method: 'POST',
    headers: { ...authed(key).headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  s3 = await startS3Server([STORE, PHOTOS, ELSEWHERE]);
  for (const name of ALL_PHOTOS) {
    const bytes = await readPhoto(name);
    await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: `incoming/${name}`, Body: bytes }));
    await s3.client.send(new PutObjectCommand({ Bucket: ELSEWHERE, Key: name, Body: bytes }));
  }
  await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: 'incoming/empty.png', Body: Buffer.alloc(0) }));
  await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: 'incoming/explodes.png', Body: await readPhoto('coffee.png') }));
  // An endpoint that fails (a 5xx) for one object.
  proxy = await startS3Proxy(s3.endpoint, { fail: (path) => path.includes('explodes') });
  env = await createTestEnv('s3_references', { ...s3.env(STORE, 'blobs/'), SUBMIT_S3_BUCKETS: `${PHOTOS}, ${STORE}` });
  // The API process's S3 traffic goes through the counting proxy; the worker's straight to the server.
  apiServices = await env.open((c) => ({ ...c, s3: { ...c.s3, endpoint: proxy.endpoint } }));
  workerServices = await env.open();
  url = (await env.api(apiServices)).url;
  key = await env.key(apiServices, 'submitter');
  await env.worker(workerServices, { concurrency: 2 });
}, 120_000);
afterAll(async () => {
  await env?.cleanup();
  await proxy?.close();
  await s3?.close();
});

describe('POST /v1/batches by reference (s3://BUCKET/KEY)', () => {
  let batchId: string;

  it(
    'answers the six photos read by the worker from the bucket; the API only asked HeadObject; nothing copied into the blob store',
    { timeout: 120_000 },
    async () => {
      const { status, body } = await submitJson({ images: ALL_PHOTOS.map((name) => ({ url: `s3://${PHOTOS}/incoming/${name}` })) });
      expect(status, JSON.stringify(body)).toBe(202);
      batchId = body.id;
      expect(body.images).toHaveLength(6);
      for (const [i, img] of (body.images as any[]).entries()) {
        expect(img).toMatchObject({ filename: ALL_PHOTOS[i], sha256: null, source: `s3://${PHOTOS}/incoming/${ALL_PHOTOS[i]}` });
        expect(img.bytes).toBe((await readPhoto(ALL_PHOTOS[i]!)).length);
      }
      const batch = await waitForBatch(url, key, batchId, 90_000);
      expect(batch).toMatchObject({ status: 'completed', progress: { total: 6, done: 6, failed: 0 } });
      const results = (await (await fetch(`${url}/v1/batches/${batchId}/results`, authed(key))).json()) as Record<string, any>;
      expect(Object.fromEntries(results.images.map((img: any) => [img.filename, img.detections.length]))).toEqual(EXPECTED_FACES);
      // The sha256 the worker computed from the object's bytes.
      for (const img of results.images) expect(img.sha256).toBe(sha256(await readPhoto(img.filename)));

      // The API's S3 requests for the referenced objects: one HeadObject each, not one GetObject.
      const onPhotos = seen().filter((r) => r.path.startsWith(`/${PHOTOS}/`));
      expect(onPhotos.filter((r) => r.method === 'HEAD')).toHaveLength(6);
      expect(onPhotos.filter((r) => r.method !== 'HEAD')).toEqual([]);
      // Nothing copied into the blob store, the user's objects where they were.
      expect(await s3.keys(STORE)).toEqual([]);
      expect(await s3.keys(PHOTOS)).toEqual(USER_OBJECTS);
    },
  );

  it('the same objects again: answered from the cache (same bytes, model and threshold)', { timeout: 60_000 }, async () => {
    const { status, body } = await submitJson({ images: ALL_PHOTOS.map((name) => ({ url: `s3://${PHOTOS}/incoming/${name}` })) });
    expect(status).toBe(202);
    await waitForBatch(url, key, body.id, 60_000);
    const rows = await env.sql<{ cache_hit: boolean }>('SELECT cache_hit FROM images WHERE batch_id = $1', [body.id]);
    expect(rows.map((r) => r.cache_hit)).toEqual([true, true, true, true, true, true]);
  });

  it.each([
    ['a bucket not in SUBMIT_S3_BUCKETS', { images: [{ url: `s3://${ELSEWHERE}/coffee.png` }] }, 403, 'bucket_not_allowed'],
    ["the blob store's own objects", { images: [{ url: `s3://${STORE}/blobs/ab/cd/${'ab'.padEnd(64, 'c')}` }] }, 403, 'bucket_not_allowed'],
    ['an object that is not there', { images: [{ url: `s3://${PHOTOS}/incoming/nope.png` }] }, 400, 'object_not_found'],
    ['not an s3:// URL', { images: [{ url: 'https://example.invalid/x.png' }] }, 400, 'invalid_reference'],
    ['a key with a .. segment', { images: [{ url: `s3://${STORE}/x/../blobs/ab/cd/${'ab'.padEnd(64, 'c')}` }] }, 400, 'invalid_reference'],
    ['an empty object', { images: [{ url: `s3://${PHOTOS}/incoming/empty.png` }] }, 400, 'empty_input'],
    ['an object the endpoint fails to answer for (HTTP 500)', { images: [{ url: `s3://${PHOTOS}/incoming/explodes.png` }] }, 503, 'object_store_unavailable'],
    ['no images', { images: [] }, 400, 'bad_request'],
    ['an unknown field', { images: [{ url: `s3://${PHOTOS}/incoming/coffee.png` }], colour: 'red' }, 400, 'bad_request'],
  ])('refuses %s (%j): %i %s, nothing submitted', async (_what, body, status, code) => {
    const before = await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM batches');
    const res = await submitJson(body);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM batches')).toEqual(before);
  });

  it('lookout submit s3://… submits by reference and waits for the results', { timeout: 90_000 }, async () => {
    const out = await runCli(['submit', `s3://${PHOTOS}/incoming/astronaut.png`, `s3://${PHOTOS}/incoming/coffee.png`, '--wait', '--json'], {
      env: { LOOKOUT_URL: url, LOOKOUT_API_KEY: key },
    });
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.map((l) => [l.file, l.detections.length])).toEqual([
      [`s3://${PHOTOS}/incoming/astronaut.png`, 1],
      [`s3://${PHOTOS}/incoming/coffee.png`, 0],
    ]);
  });

  it('prune --older-than 0 removes the batches and never the referenced objects', { timeout: 60_000 }, async () => {
    const store = openBlobStore(env.config);
    try {
      const report = await prune(
        { pool: apiServices.pool, blobs: store.blobs, logger: env.logger, now: () => new Date() },
        { olderThanDays: 0, dryRun: false, actor: 'test' },
      );
      expect(report.batches).toBeGreaterThanOrEqual(3);
      expect(report.blobs).toBe(0);
    } finally {
      store.close();
    }
    expect(await s3.keys(PHOTOS)).toEqual(USER_OBJECTS);
  });
});
