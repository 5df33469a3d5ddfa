// A NUL character (U+0000) anywhere in a route's path parameters, query or
// JSON body is a 400 naming where it was, never a 500: Postgres refuses it
// in text, so a value that reached a statement used to fail there (found by a
// review: GET /v1/images?q=ab%00c, ?model=, GET /v1/audit?actor= answered
// 500). One check for every route (route-spec.ts), so this tries routes of
// every kind: list filters, a key's name, a re-run's model, a reference
// submit's file name, a nested key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let admin: string;

beforeAll(async () => {
  env = await createTestEnv('nul_characters', { SUBMIT_S3_BUCKETS: 'user-photos' });
  services = await env.open();
  url = (await env.api(services)).url;
  admin = await env.key(services, 'admin');
}, 60_000);
afterAll(async () => env?.cleanup());

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...authed(admin).headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const NUL = '\u0000';
const someBatch = '6e8afcf5-5662-422d-87f4-d6f1a092bf16';

describe('a NUL character in a request', () => {
  it.each([
    ['GET', '/v1/images?q=ab%00c', undefined, 'query: q'],
    ['GET', '/v1/images?model=ab%00c', undefined, 'query: model'],
    ['GET', '/v1/audit?actor=a%00b', undefined, 'query: actor'],
    ['GET', '/v1/audit?action=%00', undefined, 'query: action'],
    ['POST', '/v1/keys', { name: `bad${NUL}name`, role: 'viewer' }, 'body: name'],
    ['POST', `/v1/batches/${someBatch}/rerun`, { model: `yolo${NUL}v8n` }, 'body: model'],
    ['POST', '/v1/batches', { images: [{ url: 's3://user-photos/a.png', filename: `a${NUL}.png` }] }, 'body: images[0].filename'],
    ['POST', '/v1/images/retry', { ids: [someBatch], [`x${NUL}`]: 1 }, 'body'],
  ])('%s %s: 400 naming where it was', async (method, path, body, named) => {
    const answer = await send(method, path, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error.code).toBe('bad_request');
    expect(answer.body.error.message).toContain(named);
    expect(answer.body.error.message).toContain('NUL character');
  });

  it('the same routes without it still answer as before (not refused wholesale)', async () => {
    expect((await send('GET', '/v1/images?q=abc')).status).toBe(200);
    expect((await send('GET', '/v1/audit?actor=a')).status).toBe(200);
    expect((await send('POST', '/v1/keys', { name: 'fine name', role: 'viewer' })).status).toBe(201);
  });
});
