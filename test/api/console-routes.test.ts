// The routes the console and `lookout submit` stand on: the batch list
// (paging, filters), image previews (oriented, scaled, refused until done),
// /v1/me and /v1/info; and the console's static files at /.
import { parse as parseDisposition } from 'content-disposition';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let alice: string;
let bob: string;

const get = async (path: string, key: string) => {
  const res = await fetch(`${url}${path}`, authed(key));
  return { status: res.status, type: res.headers.get('content-type'), res };
};

beforeAll(async () => {
  env = await createTestEnv('console_routes', { UPLOAD_MAX_FILES: '7', IMAGE_MAX_BYTES: '5000000' });
  services = await env.open();
  url = (await env.api(services)).url;
  alice = await env.key(services, 'submitter');
  bob = await env.key(services, 'submitter');
});
afterAll(() => env.cleanup());

describe('GET /v1/batches', () => {
  it('lists newest first, pages with before, filters by status and by key', async () => {
    const ids: string[] = [];
    for (const key of [alice, alice, bob]) {
      const { status, body } = await submit(url, key, [{ name: 'coffee.png', bytes: await readPhoto('coffee.png') }]);
      expect(status).toBe(202);
      ids.push(body.id);
    }
    const page1 = (await (await get('/v1/batches?limit=2', alice)).res.json()) as any;
    expect(page1.batches.map((b: any) => b.id)).toEqual([ids[2], ids[1]]);
    expect(page1.batches[0]).toMatchObject({ status: 'queued', model: 'blazeface-back', progress: { total: 1, done: 0, failed: 0 }, finishedAt: null });
    expect(page1.batches[0].createdBy).toMatch(/^key:[0-9a-f]{8}$/);
    const page2 = (await (await get(`/v1/batches?limit=2&before=${encodeURIComponent(page1.batches[1].createdAt)}`, alice)).res.json()) as any;
    expect(page2.batches.map((b: any) => b.id)).toEqual([ids[0]]);

    const mine = (await (await get('/v1/batches?mine=true', alice)).res.json()) as any;
    expect(mine.batches.map((b: any) => b.id)).toEqual([ids[1], ids[0]]);
    const completed = (await (await get('/v1/batches?status=completed', alice)).res.json()) as any;
    expect(completed.batches).toEqual([]);

    for (const bad of ['limit=0', 'limit=x', 'status=done', 'before=yesterday', 'mine=yes', 'page=2']) {
      const { status, res } = await get(`/v1/batches?${bad}`, alice);
      expect(status, bad).toBe(400);
      expect(((await res.json()) as any).error.code).toBe('bad_request');
    }
  });
});

describe('GET /v1/images/:id/preview.jpg', () => {
  let imageId: string;
  let rotatedId: string;

  beforeAll(async () => {
    // An orientation-6 JPEG: stored sideways, shown upright.
    const upright = await readPhoto('astronaut.png');
    const sideways = await sharp(upright).resize(300, 400, { fit: 'fill' }).rotate(270).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const { body } = await submit(url, alice, [
      { name: 'astronaut.png', bytes: upright },
      { name: 'sideways.jpg', bytes: sideways },
    ]);
    imageId = body.images[0].id;
    rotatedId = body.images[1].id;
    // 409 while queued (no worker yet).
    const early = await get(`/v1/images/${imageId}/preview.jpg`, alice);
    expect(early.status).toBe(409);
    expect(((await early.res.json()) as any).error.code).toBe('not_ready');
    await env.worker(services);
    await waitForBatch(url, alice, body.id);
  });

  it('is a JPEG scaled to fit the size asked, never enlarged', async () => {
    const small = await get(`/v1/images/${imageId}/preview.jpg?size=128`, alice);
    expect(small.status).toBe(200);
    expect(small.type).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await small.res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 128, 128]);
    const big = await get(`/v1/images/${imageId}/preview.jpg?size=4096`, alice);
    const bigMeta = await sharp(Buffer.from(await big.res.arrayBuffer())).metadata();
    expect([bigMeta.width, bigMeta.height]).toEqual([512, 512]);
  });

  it('is EXIF-oriented, in the frame the detections and the results width x height are in', async () => {
    const results = (await (
      await get(`/v1/batches/${(await services.pool.query('SELECT batch_id FROM images WHERE id = $1', [rotatedId])).rows[0].batch_id}/results`, alice)
    ).res.json()) as any;
    const rotated = results.images.find((i: any) => i.id === rotatedId);
    expect([rotated.width, rotated.height]).toEqual([300, 400]);
    const preview = await get(`/v1/images/${rotatedId}/preview.jpg?size=200`, alice);
    const meta = await sharp(Buffer.from(await preview.res.arrayBuffer())).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([150, 200, undefined]);
  });

  it('refuses a bad size and an unknown image', async () => {
    expect((await get(`/v1/images/${imageId}/preview.jpg?size=8`, alice)).status).toBe(400);
    expect((await get(`/v1/images/${imageId}/preview.jpg?size=big`, alice)).status).toBe(400);
    expect((await get('/v1/images/00000000-0000-4000-8000-000000000000/preview.jpg', alice)).status).toBe(404);
    expect((await get('/v1/images/not-a-uuid/preview.jpg', alice)).status).toBe(404);
  });
});

describe('GET /v1/images/:id/original', () => {
  it('says the EXIF orientation its bytes carry (X-Image-Orientation) and names the file exactly (RFC 6266 filename*)', async () => {
    const upright = await sharp(await readPhoto('astronaut.png'))
      .resize(200, 150, { fit: 'fill' })
      .png()
      .toBuffer();
    const cases: Array<[string, Buffer, string]> = [
      ['写真 テスト.webp', await sharp(upright).withMetadata({ orientation: 6 }).webp().toBuffer(), '6'],
      ['dl ünï.png', await sharp(upright).withMetadata({ orientation: 3 }).png().toBuffer(), '3'],
      ['plain "quoted".jpg', await sharp(upright).withMetadata({ orientation: 8 }).jpeg().toBuffer(), '8'],
      ['none.png', upright, '1'],
      ['one.jpg', await sharp(upright).withMetadata({ orientation: 1 }).jpeg().toBuffer(), '1'],
    ];
    const { status, body } = await submit(
      url,
      alice,
      cases.map(([name, bytes]) => ({ name, bytes })),
    );
    expect(status).toBe(202);
    for (const [i, [name, bytes, orientation]] of cases.entries()) {
      const res = await get(`/v1/images/${body.images[i].id}/original`, alice);
      expect(res.status).toBe(200);
      expect([name, res.res.headers.get('x-image-orientation')]).toEqual([name, orientation]);
      expect(Buffer.from(await res.res.arrayBuffer()).equals(bytes)).toBe(true);
      const disposition = res.res.headers.get('content-disposition')!;
      // Plain ASCII for old clients, and the exact name as RFC 6266 clients (curl -OJ, browsers) read it.
      expect(disposition).toMatch(/^inline; filename=[\x20-\x7e]+$/);
      const { type, parameters } = parseDisposition(disposition);
      expect([type, parameters.filename]).toEqual(['inline', name]);
    }
  });
});

describe('GET /v1/me and /v1/info', () => {
  it('names the key and its role', async () => {
    const me = (await (await get('/v1/me', alice)).res.json()) as any;
    expect(me).toEqual({ keyId: alice.split('_')[1], name: expect.any(String), role: 'submitter' });
  });

  it('gives the limits clients split uploads by, from the server configuration', async () => {
    const info = (await (await get('/v1/info', alice)).res.json()) as any;
    expect(info.limits).toEqual({
      maxFiles: 7,
      maxRequestBytes: env.config.upload.maxRequestBytes,
      maxFileBytes: 5_000_000,
      maxPixels: env.config.limits.maxPixels,
    });
    expect(info.defaultModel).toBe('blazeface-back');
    expect(info.models.find((m: any) => m.name === 'blazeface-back')).toMatchObject({ present: true, license: 'Apache-2.0', defaultMinScore: 0.75 });
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('the console at /', () => {
  it('serves the built page and its hashed assets; the API keeps its JSON 404', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere
    const script = /src="(\/assets\/index-[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/img-src 'self' data: blob:/);
    expect(csp).toMatch(/script-src 'self'/);
    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe('not_found');
  });
});
