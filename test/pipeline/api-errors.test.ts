// The API's refusal paths: 401, 404, 413 (per file, per request, file count),
// 415 (judged by content), 400; every body {"error": {"code", "message"}}.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, fsBlobDir, submit, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let url: string;
let smallUrl: string;
let key: string;

beforeAll(async () => {
  env = await createTestEnv('api_errors');
  const services = await env.open();
  url = (await env.api(services)).url;
  key = await env.key(services, 'admin');
  // A second API on the same database with tight limits.
  const small = await env.open((c) => ({
    ...c,
    limits: { ...c.limits, maxBytes: 200_000 },
    upload: { ...c.upload, maxFiles: 10, maxRequestBytes: 1_000_000 },
  }));
  smallUrl = (await env.api(small)).url;
});
afterAll(() => env.cleanup());

const expectError = (res: { status: number; body: Record<string, any> }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
};

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
}

describe('401', () => {
  it.each(['/v1/batches/00000000-0000-4000-8000-000000000000', '/v1/images/00000000-0000-4000-8000-000000000000/annotated.png'])(
    'no key on %s',
    async (path) => {
      expectError(await get(path), 401, 'unauthorized');
    },
  );

  it('a malformed, an unknown and a tampered key', async () => {
    const [, id, secret] = /^lk_([0-9a-f]{8})_(.+)$/.exec(key)!;
    const tampered = `lk_${id}_${secret!.slice(0, -1)}${secret!.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of ['nonsense', `lk_00000000_${secret}`, tampered]) {
      expectError(await get('/v1/batches/00000000-0000-4000-8000-000000000000', { authorization: `Bearer ${bad}` }), 401, 'unauthorized');
    }
  });

  it('POST without a key', async () => {
    expectError(await submit(url, undefined, [{ name: 'a.png', bytes: await readPhoto('camera.png') }]), 401, 'unauthorized');
  });

  it('Bull Board without a key challenges for Basic auth; with the key as password it opens', async () => {
    const res = await fetch(`${url}/admin/queues`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
    const basic = Buffer.from(`admin:${key}`).toString('base64');
    const board = await fetch(`${url}/admin/queues/api/queues`, { headers: { authorization: `Basic ${basic}` } });
    expect(board.status).toBe(200);
    const names = ((await board.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['backup', 'batches', 'detect', 'health', 'notify', 'pitr']);
  });
});

describe('404', () => {
  it.each([
    '/v1/batches/00000000-0000-4000-8000-000000000000',
    '/v1/batches/00000000-0000-4000-8000-000000000000/results',
    '/v1/batches/not-a-uuid',
    '/v1/images/00000000-0000-4000-8000-000000000000/annotated.png',
    '/v1/nothing-here',
  ])('%s', async (path) => {
    expectError(await get(path, authed(key).headers), 404, 'not_found');
  });
});

describe('413', () => {
  it('a file over the per-file limit', async () => {
    const res = await submit(smallUrl, key, [{ name: 'astronaut.png', bytes: await readPhoto('astronaut.png') }]);
    expectError(res, 413, 'too_large');
    expect(res.body.error.message).toMatch(/astronaut\.png is larger than the per-file limit of 200000 bytes/);
  });

  it('a request over the per-request limit', async () => {
    const camera = await readPhoto('camera.png'); // 139 kB each: eight pass the per-file limit, not the request limit
    const res = await submit(
      smallUrl,
      key,
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ name: `c${n}.png`, bytes: camera })),
    );
    expectError(res, 413, 'too_large');
    expect(res.body.error.message).toMatch(/the limit is 1000000/);
  });

  it('more files than allowed in one request', async () => {
    const rocket = await readPhoto('rocket.jpg');
    const res = await submit(
      smallUrl,
      key,
      Array.from({ length: 11 }, (_, n) => ({ name: `r${n}.jpg`, bytes: rocket.subarray(0, 1000) })),
    );
    expectError(res, 413, 'too_many_files');
  });
});

describe('refused uploads leave nothing behind', () => {
  it('no temporary blob files remain after 413s mid-stream', async () => {
    const camera = await readPhoto('camera.png');
    const astronaut = await readPhoto('astronaut.png');
    // The first file is stored, the second breaks the per-file limit mid-stream.
    const res = await submit(smallUrl, key, [
      { name: 'ok.png', bytes: camera },
      { name: 'big.png', bytes: astronaut },
    ]);
    expect(res.status).toBe(413);
    await new Promise((r) => setTimeout(r, 200));
    const tmp = await readdir(path.join(fsBlobDir(env.config), 'tmp')).catch(() => []);
    expect(tmp).toEqual([]);
  });
});

describe('415 and 400', () => {
  it('a text file named .jpg and sent as image/jpeg is not an image', async () => {
    const res = await submit(url, key, [{ name: 'photo.jpg', bytes: Buffer.from('this is text, not a JPEG'), type: 'image/jpeg' }]);
    expectError(res, 415, 'unsupported_format');
  });

  it('an SVG is refused', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expectError(await submit(url, key, [{ name: 'x.png', bytes: svg, type: 'image/png' }]), 415, 'unsupported_format');
  });

  it('an empty file', async () => {
    expectError(await submit(url, key, [{ name: 'empty.png', bytes: Buffer.alloc(0) }]), 400, 'empty_input');
  });

  it('no images at all, bad minScore, unknown model, unknown field, not multipart', async () => {
    const camera = await readPhoto('camera.png');
    const one = [{ name: 'camera.png', bytes: camera }];
    expectError(await submit(url, key, []), 400, 'bad_request');
    expectError(await submit(url, key, one, { minScore: '2' }), 400, 'bad_request');
    expectError(await submit(url, key, one, { minScore: 'high' }), 400, 'bad_request');
    expectError(await submit(url, key, one, { model: 'nope' }), 400, 'unknown_model');
    expectError(await submit(url, key, one, { colour: 'blue' }), 400, 'bad_request');
    const json = await fetch(`${url}/v1/batches`, {
      method: 'POST',
      headers: { ...authed(key).headers, 'content-type': 'application/json' },
      body: '{"images": []}',
    });
    expect(json.status).toBe(400);
  });

  it('nothing of a refused request reaches Postgres', async () => {
    const rows = await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM batches');
    expect(rows[0]?.n).toBe(0);
  });
});

describe('health', () => {
  it('/healthz and /readyz need no key', async () => {
    expect((await get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
  });
});
