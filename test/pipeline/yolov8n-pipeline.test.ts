// model=yolov8n through the whole pipeline: API, flow, worker, Postgres,
// results and annotated images, unchanged.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let url: string;
let key: string;
beforeAll(async () => {
  env = await createTestEnv('yolo_pipeline');
  const services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  key = await env.key(services, 'submitter');
});
afterAll(() => env.cleanup());

describe('model=yolov8n', () => {
  it('detects objects end to end with class labels and draws them', async () => {
    const { status, body } = await submit(url, key, [{ name: 'dog.jpg', bytes: await readPhoto('darknet/dog.jpg') }], { model: 'yolov8n', minScore: '0.5' });
    expect(status).toBe(202);
    expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as Record<string, any>;
    expect(results.images[0].detections.map((d: any) => d.label).sort()).toEqual(['bicycle', 'car', 'dog']);
    const png = await fetch(`${url}/v1/images/${body.images[0].id}/annotated.png`, authed(key));
    expect((await sharp(Buffer.from(await png.arrayBuffer())).metadata()).width).toBe(768);
    const [row] = await env.sql<{ model: string; model_sha256: string }>('SELECT model, model_sha256 FROM images WHERE batch_id = $1', [body.id]);
    expect(row).toEqual({ model: 'yolov8n', model_sha256: '9697a185dd8eb7448aea4c979e10db2b4977f70a46687890ef796936c44a848b' });
  });

  it('an unknown model is a 400, not a queued batch', async () => {
    const res = await submit(url, key, [{ name: 'dog.jpg', bytes: await readPhoto('darknet/dog.jpg') }], { model: 'yolov99' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unknown_model');
  });
});
