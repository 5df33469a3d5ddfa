// Hostile uploads, 2,000+ of them: random bytes, truncated and corrupted real
// photos, huge dimensions in tiny files, polyglots, broken multipart bodies,
// oversized fields. The API answers every one with 202 or a 4xx (never a
// 5xx, never a crash), workers record per-image errors and stay up; the
// decompression bomb is refused from its header with memory staying flat.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { pngClaiming } from '../helpers/crafted-images.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let key: string;
let photos: Buffer[];

beforeAll(async () => {
  env = await createTestEnv('fuzz', { RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_UPLOADS_PER_MINUTE: '1000000', IMAGE_MAX_BYTES: '2000000' });
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services, { queues: ['detect', 'batches'], concurrency: 4 });
  key = await env.key(services, 'submitter');
  photos = await Promise.all(ALL_PHOTOS.map((p) => readPhoto(p)));
});
afterAll(() => env.cleanup());

// A small deterministic PRNG: a failing case can be replayed.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Case = { kind: string; send: () => Promise<number> };

function generate(count: number, seed = 20261129): Case[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const multipart =
    (files: Array<{ name: string; bytes: Buffer; field?: string }>, fields: Record<string, string> = {}) =>
    async () => {
      const form = new FormData();
      for (const f of files) form.append(f.field ?? 'images', new Blob([f.bytes]), f.name);
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      const res = await fetch(`${url}/v1/batches`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
      await res.arrayBuffer();
      return res.status;
    };
  const raw = (body: Buffer, contentType: string) => async () => {
    const res = await fetch(`${url}/v1/batches`, { method: 'POST', body, headers: { authorization: `Bearer ${key}`, 'content-type': contentType } });
    await res.arrayBuffer();
    return res.status;
  };

  const kinds: Array<[string, () => () => Promise<number>]> = [
    ['random bytes', () => multipart([{ name: 'x.jpg', bytes: bytes(1 + Math.floor(r() * 4000)) }])],
    [
      'truncated photo',
      () => {
        const p = pick(photos);
        return multipart([{ name: 'cut.png', bytes: p.subarray(0, 8 + Math.floor(r() * Math.min(p.length - 8, 60_000))) }]);
      },
    ],
    [
      'corrupted photo',
      () => {
        const p = Buffer.from(pick(photos).subarray(0, 200_000));
        for (let i = 0; i < 20; i++) p[64 + Math.floor(r() * (p.length - 64))] = Math.floor(r() * 256);
        return multipart([{ name: 'flipped.png', bytes: p }]);
      },
    ],
    ['huge dimensions', () => multipart([{ name: 'bomb.png', bytes: pngClaiming(20_000 + Math.floor(r() * 80_000), 20_000 + Math.floor(r() * 80_000)) }])],
    [
      'polyglot',
      () => {
        const heads = [
          Buffer.from('GIF89a'),
          Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
          Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
          Buffer.from('RIFF\0\0\0\0WEBP'),
        ];
        const tails = ['<script>alert(1)</script>', '<?php system($_GET[1]); ?>', '<svg onload=alert(1)>', 'PK\x03\x04'];
        return multipart([{ name: 'poly.gif', bytes: Buffer.concat([pick(heads), Buffer.from(pick(tails)), bytes(Math.floor(r() * 500))]) }]);
      },
    ],
    [
      'svg or text',
      () => multipart([{ name: 'a.png', bytes: Buffer.from(pick(['<svg xmlns="http://www.w3.org/2000/svg"/>', 'hello', '%PDF-1.7', '{"json": true}'])) }]),
    ],
    [
      'broken boundary',
      () => {
        const boundary = `----x${Math.floor(r() * 1e9)}`;
        const bodies = [
          `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="a.jpg"\r\n\r\n${bytes(50).toString('latin1')}`, // no closing boundary
          `--wrong\r\nContent-Disposition: form-data; name="images"\r\n\r\nx\r\n--wrong--`,
          `garbage before${bytes(30).toString('latin1')}`,
          `--${boundary}\r\n\r\n\r\n--${boundary}--`,
          '',
        ];
        return raw(Buffer.from(pick(bodies), 'latin1'), `multipart/form-data; boundary=${boundary}`);
      },
    ],
    ['no boundary', () => raw(bytes(100), 'multipart/form-data')],
    ['wrong content type', () => raw(bytes(100), pick(['image/png', 'application/json', 'text/plain', 'application/x-www-form-urlencoded']))],
    [
      'oversized field',
      () =>
        multipart([{ name: 'c.png', bytes: photos[1]!.subarray(0, 100) }], {
          [pick(['model', 'minScore', 'webhookUrl'])]: 'x'.repeat(3000 + Math.floor(r() * 5000)),
        }),
    ],
    [
      'bad field values',
      () =>
        multipart(
          [{ name: 'c.png', bytes: photos[1]!.subarray(0, 100) }],
          pick<Record<string, string>>([
            { minScore: 'NaN' },
            { minScore: '-1' },
            { model: '../../etc/passwd' },
            { webhookUrl: 'file:///etc/passwd' },
            { webhookUrl: 'http://169.254.169.254/latest/meta-data' },
            { unknown: '1' },
          ]),
        ),
    ],
    ['wrong file field', () => multipart([{ name: 'c.png', bytes: photos[1]!, field: pick(['image', 'file', '../images']) }])],
    [
      'hostile filename',
      () => multipart([{ name: pick(['../../../etc/passwd', '..\\..\\win.ini', '\0evil.png', 'a'.repeat(5000), '%2e%2e%2fx.png']), bytes: randomBytes(64) }]),
    ],
    ['too big', () => multipart([{ name: 'big.jpg', bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(2_100_000)]) }])],
  ];
  return Array.from({ length: count }, (_, i) => {
    const [kind, make] = kinds[i % kinds.length]!;
    return { kind, send: make() };
  });
}

describe('2,000+ malformed uploads', () => {
  it('get only 202 or 4xx answers; the API and the workers stay up and record per-image errors', async () => {
    const cases = generate(2100);
    const statuses = new Map<string, Map<number, number>>();
    for (let i = 0; i < cases.length; i += 16) {
      const results = await Promise.all(cases.slice(i, i + 16).map(async (c) => [c.kind, await c.send()] as const));
      for (const [kind, status] of results) {
        const byStatus = statuses.get(kind) ?? new Map<number, number>();
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        statuses.set(kind, byStatus);
      }
    }
    const all = [...statuses.values()].flatMap((m) => [...m.entries()]);
    const summary = Object.fromEntries([...statuses].map(([k, m]) => [k, Object.fromEntries(m)]));
    expect(all.reduce((n, [, c]) => n + c, 0)).toBe(2100);
    expect(
      all.filter(([s]) => s >= 500),
      JSON.stringify(summary),
    ).toEqual([]);
    expect(
      all.filter(([s]) => s !== 202 && (s < 400 || s > 499)),
      JSON.stringify(summary),
    ).toEqual([]);
    // Bombs are refused at the door, before any decode.
    expect([...statuses.get('huge dimensions')!.keys()]).toEqual([413]);
    expect([...statuses.get('svg or text')!.keys()]).toEqual([415]);

    // The API still answers, and a real batch still completes.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const { body } = await submit(url, key, [{ name: 'astronaut.png', bytes: photos[0]! }]);
    expect((await waitForBatch(url, key, body.id, 120_000)).status).toBe('completed');

    // What got through the door as an image but is not one failed alone, with its reason.
    const errors = await env.sql<{ error_code: string; n: number }>(
      `SELECT error_code, count(*)::int AS n FROM images WHERE status = 'failed' GROUP BY error_code ORDER BY error_code`,
    );
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(['corrupt_image', 'unsupported_format', 'too_many_pixels', 'empty_input']).toContain(e.error_code);
    const stuck = await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM batches WHERE status IN ('queued', 'running')`);
    expect(stuck[0]?.n).toBe(0);
  }, 300_000);
});

describe('the decompression bomb', () => {
  it('is refused from its header, and memory stays flat while refusing it', async () => {
    const bomb = pngClaiming(100_000, 100_000, 4); // 10 gigapixels claimed, under 2 KB sent
    expect(bomb.length).toBeLessThan(4096);
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 50; i++) {
      const res = await submit(url, key, [{ name: `bomb-${i}.png`, bytes: bomb }]);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('too_many_pixels');
    }
    const grown = (process.memoryUsage().rss - before) / 1048576;
    // Decoding even one would need 30 GB; refusing fifty costs next to nothing.
    expect(grown).toBeLessThan(64);
  });
});
