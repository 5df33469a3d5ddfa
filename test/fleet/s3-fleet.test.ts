// Hosts that share only Redis, Postgres and a bucket: BLOB_STORE=s3 on a real
// S3 protocol server (s3rver on 127.0.0.1), BLOB_DIR pointing under a regular
// file where nothing can be made, the API in this process and two `lookout
// worker` processes, each in a working directory of its own. One batch of the
// six photos: both workers take part, the results are right, the images are
// in the bucket and nowhere else.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleFor } from '../../src/alerts/rules.js';
import { createFsBlobStore } from '../../src/blobs/fs-blob-store.js';
import { createS3BlobStore } from '../../src/blobs/s3-blob-store.js';
import { runProbes } from '../../src/health/probes.js';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, EXPECTED_FACES, readPhoto } from '../helpers/photos.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const BUCKET = 'lookout-fleet-test';
const PREFIX = 'images/';

let s3: TestS3Server;
let env: TestEnv;
let services: Services;
let url: string;
let key: string;
let scratch: string;
let notADirectory: string;
const workDirs: string[] = [];
const workers: WorkerChild[] = [];

beforeAll(async () => {
  s3 = await startS3Server([BUCKET]);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'lookout-s3-fleet-'));
  notADirectory = path.join(scratch, 'a-regular-file');
  await writeFile(notADirectory, 'BLOB_DIR lies under this file: nothing can be made there\n');
  env = await createTestEnv('s3_fleet', { ...s3.env(BUCKET, PREFIX), BLOB_DIR: path.join(notADirectory, 'blobs') });
  services = await env.open();
  url = (await env.api(services)).url;
  key = await env.key(services, 'submitter');
  for (const name of ['host-a', 'host-b']) {
    const dir = path.join(scratch, name);
    await mkdir(dir);
    workDirs.push(dir);
  }
  // Detect and finalise on both, one image at a time each, so that neither can take the whole batch at once.
  for (const cwd of workDirs) workers.push(await spawnWorker(env.env, ['--queues', 'detect,batches', '--concurrency', '1'], 60_000, { cwd }));
}, 180_000);
afterAll(async () => {
  for (const w of workers) await w.stop();
  await env?.cleanup();
  await s3?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('BLOB_STORE=s3, two worker processes, BLOB_DIR unusable', () => {
  it('BLOB_DIR really is unusable: the fs store cannot write there', async () => {
    const store = createFsBlobStore(path.join(notADirectory, 'blobs'));
    await expect(store.put(Readable.from([Buffer.from('x')]), { maxBytes: 10 })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('processes one batch of the six photos on both workers; results right; the images in the bucket', { timeout: 120_000 }, async () => {
    const files = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
    const { status, body } = await submit(url, key, files);
    expect(status, JSON.stringify(body)).toBe(202);
    const batch = await waitForBatch(url, key, body.id, 90_000);
    expect(batch).toMatchObject({ status: 'completed', progress: { total: 6, done: 6, failed: 0 } });

    const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as Record<string, any>;
    expect(Object.fromEntries(results.images.map((img: any) => [img.filename, img.detections.length]))).toEqual(EXPECTED_FACES);
    expect(results.images.every((img: any) => img.status === 'done')).toBe(true);

    // Both processes took part: each image names the worker that ran it, and both workers' ids are there.
    const rows = await env.sql<{ worker_id: string; images: number }>(
      'SELECT worker_id, count(*)::int AS images FROM images WHERE batch_id = $1 GROUP BY worker_id ORDER BY worker_id',
      [body.id],
    );
    const fleet = await env.sql<{ id: string; pid: number }>('SELECT id, pid FROM workers ORDER BY id');
    expect(fleet.map((w) => w.pid).sort()).toEqual(workers.map((w) => w.child.pid).sort());
    expect(rows.map((r) => r.worker_id)).toEqual(fleet.map((w) => w.id));
    console.log(`s3 fleet: images per worker ${rows.map((r) => r.images).join(', ')}`);

    // The six images in the bucket, under the prefix, by content address; nothing else (no temporary object left).
    const expected = body.images.map((img: any) => `${PREFIX}${img.sha256.slice(0, 2)}/${img.sha256.slice(2, 4)}/${img.sha256}`).sort();
    expect(await s3.keys(BUCKET)).toEqual(expected);
    // And what the bucket holds is the bytes sent.
    const original = await fetch(`${url}/v1/images/${body.images[0].id}/original`, authed(key));
    expect(Buffer.from(await original.arrayBuffer()).equals(files[0]!.bytes)).toBe(true);
  });

  it('left nothing in BLOB_DIR or in either working directory', async () => {
    expect((await stat(notADirectory)).isFile()).toBe(true);
    expect(await readFile(notADirectory, 'utf8')).toBe('BLOB_DIR lies under this file: nothing can be made there\n');
    for (const dir of workDirs) expect(await readdir(dir), dir).toEqual([]);
  });

  it('probes the bucket in the health check, not a disk', async () => {
    const res = await fetch(`${url}/v1/health`, authed(key));
    const health = (await res.json()) as { components: Array<{ name: string; status: string; message: string }> };
    const names = health.components.map((c) => c.name);
    expect(names).not.toContain('disk.blobs');
    expect(health.components.find((c) => c.name === 'blobs.bucket')).toMatchObject({
      status: 'ok',
      message: expect.stringMatching(new RegExp(`^s3://${BUCKET}/${PREFIX} answers in [\\d.]+ ms$`)),
    });
  });

  it('a bucket that does not answer makes the health check critical, as a dependency down', async () => {
    const missing = createS3BlobStore(s3.client, { bucket: 'no-such-bucket-here', prefix: '' });
    const check = await runProbes({
      redis: services.redis,
      pool: services.pool,
      queues: services.queues,
      blobs: missing,
      config: services.config,
      now: () => new Date(),
    });
    expect(check.status).toBe('critical');
    expect(check.components[0]).toMatchObject({
      name: 'blobs.bucket',
      status: 'critical',
      message: expect.stringMatching(/^probe failed: bucket no-such-bucket-here does not answer HeadBucket: no such bucket/),
    });
    expect(ruleFor('blobs.bucket')).toBe('dependency_down');
  });

  it('workers stop cleanly', async () => {
    for (const w of workers) expect(await w.stop()).toBe(0);
    const out = workers.map((w) => w.output()).join('\n');
    expect(out).not.toMatch(/ENOTDIR|EACCES/);
    expect(out).not.toContain(process.env.AWS_SECRET_ACCESS_KEY!);
  });
});
