// The request log: one line per request (pino-http) with the request id,
// method, route, path, status, response time, key id and bytes in and out,
// probes at debug; and no line anywhere carries a key or a secret.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openServices, type Services } from '../../src/runtime/services.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { captureLogger, type CapturedLogger } from '../helpers/capture-logger.js';
import { tinyImages } from '../helpers/tiny-images.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

const DEBUG = 20;
const INFO = 30;

let env: TestEnv;
let services: Services;
let api: RunningApi;
let url: string;
let key: string;
let log: CapturedLogger;

beforeAll(async () => {
  env = await createTestEnv('request-log');
  key = await env.key(await env.open(), 'submitter');
  log = captureLogger('debug');
  services = openServices(env.config, log.logger);
  api = await startApi(services, 0);
  url = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await api?.close();
  await services?.close();
  await env?.cleanup();
});

/** Sends a request with a request id of its own and returns the log line of that id once written. */
async function logged(path: string, init: RequestInit = {}): Promise<{ res: Response; text: string; line: Record<string, unknown> }> {
  const requestId = randomUUID();
  const res = await fetch(`${url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-request-id': requestId } });
  const text = await res.text();
  for (let i = 0; i < 100; i++) {
    const line = log.lines.find((l) => l.requestId === requestId && 'statusCode' in l);
    if (line) return { res, text, line };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no request log line for ${path}`);
}

describe('the request log', () => {
  it('a 202 submit: request id, method, route, status, response time, key id, bytes in and out', async () => {
    const form = new FormData();
    const [image] = await tinyImages(1, 'request-log');
    form.append('images', new Blob([image!.bytes]), image!.name);
    const { res, text, line } = await logged('/v1/batches', { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(202);
    expect(line).toMatchObject({
      level: INFO,
      requestId: res.headers.get('x-request-id'),
      method: 'POST',
      route: '/v1/batches',
      path: '/v1/batches',
      statusCode: 202,
      keyId: key.split('_')[1],
      msg: 'POST /v1/batches 202',
    });
    expect(line.responseTime).toEqual(expect.any(Number));
    // The whole request (line, headers, multipart body) and the whole answer (status line, headers, JSON).
    expect(line.bytesIn).toBeGreaterThan(image!.bytes.length + 200);
    expect(line.bytesOut).toBeGreaterThan(Buffer.byteLength(text) + 100);
  });

  it('a 401: no key id, the path, no route matched yet', async () => {
    const token = `lk_${randomBytes(4).toString('hex')}_${randomBytes(32).toString('base64url')}`;
    const { res, line } = await logged('/v1/batches?limit=5', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(line).toMatchObject({ level: INFO, method: 'GET', route: null, path: '/v1/batches', statusCode: 401, keyId: null });
    expect(JSON.stringify(log.lines)).not.toContain(token.slice(12));
  });

  it('a 404: the route matched (an unknown batch) or none (an unknown path)', async () => {
    const unknown = await logged(`/v1/batches/${randomUUID()}`, { headers: { authorization: `Bearer ${key}` } });
    expect(unknown.res.status).toBe(404);
    expect(unknown.line).toMatchObject({ method: 'GET', route: '/v1/batches/:id', statusCode: 404, keyId: key.split('_')[1] });
    const nowhere = await logged('/v1/nowhere', { headers: { authorization: `Bearer ${key}` } });
    expect(nowhere.res.status).toBe(404);
    expect(nowhere.line).toMatchObject({ route: null, path: '/v1/nowhere', statusCode: 404, msg: 'GET /v1/nowhere 404' });
  });

  it('probes and scrapes log at debug', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const { line } = await logged(path);
      expect(line).toMatchObject({ level: DEBUG, path, route: path });
    }
  });

  it('no line carries the key, its secret, an authorization header or a header at all', () => {
    const all = JSON.stringify(log.lines);
    expect(log.lines.length).toBeGreaterThan(5);
    expect(all).not.toContain(key);
    expect(all).not.toContain(key.split('_').slice(2).join('_'));
    expect(all.toLowerCase()).not.toContain('authorization');
    expect(all.toLowerCase()).not.toContain('"headers"');
  });
});
