// The whole pipeline on real Redis and Postgres with the real model and the
// six real photos: HTTP upload → BullMQ flow → detect worker → Postgres →
// results API and annotated images.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, EXPECTED_FACES, readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let key: string;

beforeAll(async () => {
  env = await createTestEnv('e2e');
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  key = await env.key(services, 'admin');
});
afterAll(() => env.cleanup());

describe('a batch of the six photos', () => {
  let batchId: string;
  let submitted: Record<string, any>;

  beforeAll(async () => {
    const files = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
    const { status, body } = await submit(url, key, files);
    expect(status).toBe(202);
    submitted = body;
    batchId = body.id;
  });

  it('answers 202 with ids, filenames, sha256 and sizes', async () => {
    expect(submitted.images).toHaveLength(6);
    const astronaut = submitted.images[0];
    expect(astronaut).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      filename: 'astronaut.png',
      sha256: '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5',
      bytes: (await readPhoto('astronaut.png')).length,
    });
  });

  it('completes, with the right counts through the API', async () => {
    const batch = await waitForBatch(url, key, batchId);
    expect(batch).toMatchObject({ id: batchId, status: 'completed', progress: { total: 6, done: 6, failed: 0 } });
    expect(new Date(batch.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(batch.createdAt).getTime());

    const res = await fetch(`${url}/v1/batches/${batchId}/results`, authed(key));
    expect(res.status).toBe(200);
    const results = (await res.json()) as Record<string, any>;
    expect(results.status).toBe('completed');
    const counts = Object.fromEntries(results.images.map((img: any) => [img.filename, img.detections.length]));
    expect(counts).toEqual(EXPECTED_FACES);
    const astronaut = results.images.find((img: any) => img.filename === 'astronaut.png');
    expect(astronaut).toMatchObject({ width: 512, height: 512, status: 'done', error: null });
    expect(Object.keys(astronaut.detections[0])).toEqual(['label', 'score', 'box', 'keypoints']);
    expect(astronaut.detections[0].label).toBe('face');
    expect(astronaut.detections[0].keypoints).toHaveLength(6);
  });

  it('has the same counts directly in Postgres, one result set per image', async () => {
    const rows = await env.sql<{ filename: string; faces: number; status: string; model_sha256: string }>(
      `SELECT i.filename, i.status, i.model_sha256, count(d.id)::int AS faces
         FROM images i LEFT JOIN detections d ON d.image_id = i.id
        WHERE i.batch_id = $1 GROUP BY i.id ORDER BY i.position`,
      [batchId],
    );
    expect(Object.fromEntries(rows.map((r) => [r.filename, r.faces]))).toEqual(EXPECTED_FACES);
    expect(rows.every((r) => r.status === 'done')).toBe(true);
    expect(new Set(rows.map((r) => r.model_sha256))).toEqual(new Set(['427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2']));
    const audit = await env.sql(`SELECT actor, action FROM audit_log WHERE target = $1 ORDER BY id`, [batchId]);
    expect(audit.map((a) => a.action)).toEqual(['batch.submit', 'batch.finished']);
    expect(audit[0]?.actor).toMatch(/^key:[0-9a-f]{8}$/);
  });

  it('serves annotated.png as a PNG of the photo size', async () => {
    for (const img of submitted.images) {
      const res = await fetch(`${url}/v1/images/${img.id}/annotated.png`, authed(key));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      const original = await sharp(await readPhoto(img.filename)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', original.width, original.height]);
    }
  });

  it('answers a resubmitted photo from the stored result (cache hit)', async () => {
    const { body } = await submit(url, key, [{ name: 'again.png', bytes: await readPhoto('astronaut.png') }]);
    expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    const [row] = await env.sql<{ cache_hit: boolean; faces: number }>(
      `SELECT i.cache_hit, (SELECT count(*)::int FROM detections d WHERE d.image_id = i.id) AS faces FROM images i WHERE i.batch_id = $1`,
      [body.id],
    );
    expect(row).toEqual({ cache_hit: true, faces: 1 });
    const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as Record<string, any>;
    const original = (await (await fetch(`${url}/v1/batches/${batchId}/results`, authed(key))).json()) as Record<string, any>;
    expect(results.images[0].detections).toEqual(original.images[0].detections);
  });

  it('serves a different threshold as a new answer, not a cache hit', async () => {
    const { body } = await submit(url, key, [{ name: 'coffee.png', bytes: await readPhoto('coffee.png') }], { minScore: '0.5' });
    expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    const [row] = await env.sql<{ cache_hit: boolean; min_score: number; faces: number }>(
      `SELECT i.cache_hit, i.min_score, (SELECT count(*)::int FROM detections d WHERE d.image_id = i.id) AS faces FROM images i WHERE i.batch_id = $1`,
      [body.id],
    );
    expect(row?.cache_hit).toBe(false);
    expect(row?.min_score).toBe(0.5);
    expect(row?.faces).toBeGreaterThan(0); // cups look like faces at 0.5
  });
});

describe('a batch mixing good and corrupt images', () => {
  it('ends completed_with_errors; the corrupt image fails alone, once, with its error; good results intact', async () => {
    const good = await readPhoto('camera.png');
    const png = await readPhoto('coffee.png');
    const truncated = png.subarray(0, Math.floor(png.length / 3)); // a PNG signature, then nothing decodable
    const { status, body } = await submit(url, key, [
      { name: 'camera.png', bytes: good },
      { name: 'broken.png', bytes: truncated },
    ]);
    expect(status).toBe(202);
    const batch = await waitForBatch(url, key, body.id);
    expect(batch).toMatchObject({ status: 'completed_with_errors', progress: { total: 2, done: 1, failed: 1 } });
    const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as Record<string, any>;
    const [camera, broken] = results.images;
    expect(camera).toMatchObject({ status: 'done', error: null });
    expect(camera.detections).toHaveLength(1);
    expect(broken).toMatchObject({ status: 'failed', error: { code: 'corrupt_image' }, detections: [] });
    const [row] = await env.sql<{ attempts: number }>('SELECT attempts FROM images WHERE id = $1', [broken.id]);
    expect(row?.attempts).toBe(1); // no retry for bad input
    const annotated = await fetch(`${url}/v1/images/${broken.id}/annotated.png`, authed(key));
    expect(annotated.status).toBe(409);
  });
});
