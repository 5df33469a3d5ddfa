// Issue 19's batch actions on S3 (a real S3 protocol server, s3rver on
// 127.0.0.1): a retry that succeeds (an image submitted by reference failed
// because its object had been replaced by one too large; the user puts the
// right one back; retried, it is answered), a re-run of a batch submitted by
// reference (by its s3:// URLs again, nothing copied into the blob store,
// answered from the cache), and deletes with the s3 blob store (a batch's own
// blob removed from the bucket, one another batch uses kept; a batch by
// reference deleted leaves the user's objects alone). Real Redis, Postgres
// and model.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const STORE = 'lookout-store';
const PHOTOS = 'user-photos';
const MAX_BYTES = 1_000_000;

let s3: TestS3Server;
let env: TestEnv;
let services: Services;
let url: string;
let submitter: string;
let operator: string;

beforeAll(async () => {
  s3 = await startS3Server([STORE, PHOTOS]);
  for (const name of ['camera.png', 'rocket.jpg', 'astronaut.png']) {
    await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: `incoming/${name}`, Body: await readPhoto(name) }));
  }
  env = await createTestEnv('s3_batch_actions', { ...s3.env(STORE, 'blobs/'), SUBMIT_S3_BUCKETS: PHOTOS, IMAGE_MAX_BYTES: String(MAX_BYTES) });
  services = await env.open();
  url = (await env.api(services)).url;
  submitter = await env.key(services, 'submitter');
  operator = await env.key(services, 'operator');
}, 120_000);
afterAll(async () => {
  await env?.cleanup();
  await s3?.close();
});

async function post(path: string, key: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { ...authed(key).headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function results(id: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}/v1/batches/${id}/results`, authed(submitter))).json()) as Record<string, any>;
}

let referenceBatch: string;

describe('by reference', () => {
  it('a retry succeeds once the object the image names is readable again', { timeout: 120_000 }, async () => {
    const { status, body } = await post('/v1/batches', submitter, {
      images: ['camera.png', 'rocket.jpg'].map((name) => ({ url: `s3://${PHOTOS}/incoming/${name}` })),
    });
    expect(status, JSON.stringify(body)).toBe(202);
    referenceBatch = body.id;
    const rocketId = body.images[1].id;
    // Between the submit (HeadObject: 112 kB) and the worker's read, the object is replaced by one past IMAGE_MAX_BYTES.
    await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: 'incoming/rocket.jpg', Body: Buffer.alloc(MAX_BYTES + 1, 7) }));
    await env.worker(services);
    expect(await waitForBatch(url, submitter, referenceBatch)).toMatchObject({ status: 'completed_with_errors', progress: { done: 1, failed: 1 } });
    const failed = (await results(referenceBatch)).images[1];
    expect(failed).toMatchObject({ id: rocketId, status: 'failed', error: { code: 'too_large' } });

    // The user puts the right object back; an operator retries the failed image.
    await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: 'incoming/rocket.jpg', Body: await readPhoto('rocket.jpg') }));
    const retried = await post('/v1/images/retry', operator, { ids: [rocketId] });
    expect(retried).toEqual({ status: 200, body: { retried: [{ id: rocketId, batchId: referenceBatch }], skipped: [] } });
    expect(await waitForBatch(url, submitter, referenceBatch)).toMatchObject({ status: 'completed', progress: { total: 2, done: 2, failed: 0 } });
    const answered = (await results(referenceBatch)).images[1];
    expect(answered).toMatchObject({ id: rocketId, status: 'done', error: null, source: `s3://${PHOTOS}/incoming/rocket.jpg`, width: expect.any(Number) });
    const failedList = (await (await fetch(`${url}/v1/images?status=failed`, authed(submitter))).json()) as { images: unknown[] };
    expect(failedList.images).toEqual([]);
  });

  it('a re-run names the same objects again, copies nothing into the blob store, and is answered from the cache', { timeout: 60_000 }, async () => {
    const { status, body } = await post(`/v1/batches/${referenceBatch}/rerun`, submitter, {});
    expect(status, JSON.stringify(body)).toBe(202);
    expect(await waitForBatch(url, submitter, body.id)).toMatchObject({ status: 'completed', progress: { total: 2, done: 2 } });
    const rows = await env.sql<{ source_url: string; blob_key: string | null; cache_hit: boolean }>(
      'SELECT source_url, blob_key, cache_hit FROM images WHERE batch_id = $1 ORDER BY position',
      [body.id],
    );
    expect(rows).toEqual([
      { source_url: `s3://${PHOTOS}/incoming/camera.png`, blob_key: null, cache_hit: true },
      { source_url: `s3://${PHOTOS}/incoming/rocket.jpg`, blob_key: null, cache_hit: true },
    ]);
    expect(await s3.keys(STORE)).toEqual([]);
  });

  it('a re-run of an object gone since is refused as a submit would be (400 object_not_found), nothing kept', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: PHOTOS, Key: 'incoming/brief.png', Body: await readPhoto('camera.png') }));
    const { body } = await post('/v1/batches', submitter, { images: [{ url: `s3://${PHOTOS}/incoming/brief.png` }] });
    await waitForBatch(url, submitter, body.id);
    await s3.client.send(new DeleteObjectCommand({ Bucket: PHOTOS, Key: 'incoming/brief.png' }));
    const batches = await env.sql('SELECT count(*)::int AS n FROM batches');
    const refused = await post(`/v1/batches/${body.id}/rerun`, submitter, {});
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('object_not_found');
    expect(await env.sql('SELECT count(*)::int AS n FROM batches')).toEqual(batches);
  });

  it("deleting a batch by reference leaves the user's objects where they are", async () => {
    const before = await s3.keys(PHOTOS);
    const res = await fetch(`${url}/v1/batches/${referenceBatch}`, { method: 'DELETE', ...authed(operator) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, any>).blobs).toEqual({ removed: 0, bytes: 0, kept: 0, failed: 0 });
    expect(await s3.keys(PHOTOS)).toEqual(before);
  });
});

describe('uploads in the s3 blob store', () => {
  it('deleting a batch removes its own blob from the bucket and keeps one another batch uses', { timeout: 60_000 }, async () => {
    const camera = await readPhoto('camera.png');
    const own = Buffer.concat([await readPhoto('chelsea.png'), Buffer.from('s3 only')]);
    const keep = await submit(url, submitter, [{ name: 'camera.png', bytes: camera }]);
    const doomed = await submit(url, submitter, [
      { name: 'camera again.png', bytes: camera },
      { name: 'own.png', bytes: own },
    ]);
    await waitForBatch(url, submitter, keep.body.id);
    await waitForBatch(url, submitter, doomed.body.id);
    const object = (sha: string) => `blobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;
    const [cameraKey, ownKey] = [object(doomed.body.images[0].sha256), object(doomed.body.images[1].sha256)];
    expect(await s3.keys(STORE, 'blobs/')).toEqual(expect.arrayContaining([cameraKey, ownKey]));

    const res = await fetch(`${url}/v1/batches/${doomed.body.id}`, { method: 'DELETE', ...authed(operator) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, any>).blobs).toEqual({ removed: 1, bytes: own.length, kept: 1, failed: 0 });
    const left = await s3.keys(STORE, 'blobs/');
    expect(left).toContain(cameraKey);
    expect(left).not.toContain(ownKey);
    // The batch that shares the camera still reads it.
    expect((await fetch(`${url}/v1/images/${keep.body.images[0].id}/original`, authed(submitter))).status).toBe(200);
  });
});
