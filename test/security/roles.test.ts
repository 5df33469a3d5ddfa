// Every role against every route, Bull Board's own API routes included: no
// key 401, a role below the route's 403, at or above it anything but 401/403.
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/db/repositories/api-keys.js';
import { readPhoto } from '../helpers/photos.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const ROLES: Role[] = ['viewer', 'submitter', 'operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 0, submitter: 1, operator: 2, admin: 3 };

let env: TestEnv;
let url: string;
const keys = {} as Record<Role, string>;
const ids = { batch: '', image: '', alert: '00000000-0000-4000-8000-000000000000', backup: '00000000-0000-4000-8000-000000000000' };

beforeAll(async () => {
  env = await createTestEnv('roles', { RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_UPLOADS_PER_MINUTE: '100000' });
  const services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  for (const role of ROLES) keys[role] = await env.key(services, role);
  const { body } = await submit(url, keys.admin, [{ name: 'camera.png', bytes: await readPhoto('camera.png') }]);
  await waitForBatch(url, keys.admin, body.id);
  ids.batch = body.id;
  ids.image = body.images[0].id;
});
afterAll(() => env.cleanup());

interface RouteCase {
  method: string;
  path: () => string;
  needs: Role;
  /** Refused (403) to every role, admin included. */
  refusedToAll?: boolean;
  body?: () => Promise<{ body: string | FormData; headers?: Record<string, string> }>;
}

const json = (value: unknown) => () => Promise.resolve({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });

const API: RouteCase[] = [
  { method: 'GET', path: () => `/v1/batches/${ids.batch}`, needs: 'viewer' },
  { method: 'GET', path: () => `/v1/batches/${ids.batch}/results`, needs: 'viewer' },
  { method: 'GET', path: () => `/v1/images/${ids.image}/annotated.png`, needs: 'viewer' },
  { method: 'GET', path: () => `/v1/images/${ids.image}/preview.jpg?size=64`, needs: 'viewer' },
  { method: 'GET', path: () => `/v1/images/${ids.image}/original`, needs: 'viewer' },
  { method: 'GET', path: () => '/v1/batches?limit=5', needs: 'viewer' },
  { method: 'GET', path: () => `/v1/batches/${ids.batch}/results?format=csv`, needs: 'viewer' },
  { method: 'GET', path: () => '/v1/images?status=failed', needs: 'viewer' },
  { method: 'POST', path: () => '/v1/images/retry', needs: 'operator', body: json({ ids: [ids.image] }) },
  { method: 'POST', path: () => `/v1/batches/${ids.batch}/rerun`, needs: 'submitter', body: json({}) },
  // An unknown batch: the role is checked first; an operator gets 404, nothing is deleted.
  { method: 'DELETE', path: () => '/v1/batches/00000000-0000-4000-8000-000000000000', needs: 'operator' },
  { method: 'GET', path: () => '/v1/me', needs: 'viewer' },
  { method: 'GET', path: () => '/v1/info', needs: 'viewer' },
  { method: 'GET', path: () => '/v1/health', needs: 'viewer' },
  { method: 'GET', path: () => '/v1/workers', needs: 'viewer' },
  { method: 'GET', path: () => '/v1/alerts', needs: 'viewer' },
  { method: 'GET', path: () => '/v1/stats', needs: 'viewer' },
  {
    method: 'POST',
    path: () => '/v1/batches',
    needs: 'submitter',
    body: async () => {
      const form = new FormData();
      form.append('images', new Blob([await readPhoto('rocket.jpg')]), 'rocket.jpg');
      return { body: form };
    },
  },
  { method: 'POST', path: () => `/v1/alerts/${ids.alert}/silence`, needs: 'operator', body: json({ minutes: 5 }) },
  { method: 'GET', path: () => '/v1/backups', needs: 'operator' },
  { method: 'POST', path: () => '/v1/backups', needs: 'operator' },
  { method: 'GET', path: () => `/v1/backups/${ids.backup}`, needs: 'operator' },
  { method: 'POST', path: () => `/v1/backups/${ids.backup}/verify`, needs: 'operator' },
  { method: 'GET', path: () => '/v1/queues', needs: 'viewer' },
  { method: 'POST', path: () => '/v1/queues/notify/pause', needs: 'operator' },
  { method: 'POST', path: () => '/v1/queues/notify/resume', needs: 'operator' },
  { method: 'POST', path: () => '/v1/queues/notify/retry-failed', needs: 'operator' },
  { method: 'POST', path: () => '/v1/queues/notify/clean', needs: 'operator', body: json({ state: 'failed', olderThanMinutes: 0 }) },
  { method: 'PUT', path: () => '/v1/queues/notify/concurrency', needs: 'operator', body: json({ concurrency: 1000 }) },
  { method: 'GET', path: () => '/v1/keys', needs: 'admin' },
  { method: 'POST', path: () => '/v1/keys', needs: 'admin', body: json({ name: 'made-by-test', role: 'viewer' }) },
  { method: 'DELETE', path: () => '/v1/keys/00000000', needs: 'admin' },
  { method: 'GET', path: () => '/v1/audit', needs: 'admin' },
  { method: 'GET', path: () => '/admin/queues', needs: 'operator' },
];

const params: Record<string, string> = { queueName: 'notify', jobId: 'no-such-job', queueStatus: 'failed', schedulerId: 'no-such-scheduler' };
/** Board writes refused to every role: they would create or change work (test/security/board-writes.test.ts). */
const REFUSED_TO_ALL = new Set([
  'POST /api/queues/:queueName/add',
  'PATCH /api/queues/:queueName/:jobId/update-data',
  'PUT /api/queues/:queueName/empty',
  'PUT /api/queues/:queueName/obliterate',
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run',
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/remove',
  'PATCH /api/queues/:queueName/job-schedulers/:schedulerId',
  'PUT /api/queues/:queueName/concurrency', // one door: PUT /v1/queues/:name/concurrency (operator)
]);
const BOARD: RouteCase[] = appRoutes.api.flatMap((r) => {
  const method = String([r.method].flat()[0]).toUpperCase();
  return [r.route].flat().map((route) => ({
    method,
    path: () => `/admin/queues${route.replace(/:(\w+)/g, (_m: string, p: string) => params[p] ?? p)}`,
    needs: method === 'GET' ? ('operator' as const) : ('admin' as const),
    ...(REFUSED_TO_ALL.has(`${method} ${route}`) ? { refusedToAll: true } : {}),
    ...(method === 'GET' ? {} : { body: json({}) }),
  }));
});

async function call(c: RouteCase, key?: string) {
  const extra: { body?: string | FormData; headers?: Record<string, string> } = c.body ? await c.body() : {};
  const res = await fetch(`${url}${c.path()}`, {
    method: c.method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra.headers },
    ...(extra.body ? { body: extra.body } : {}),
  });
  await res.arrayBuffer();
  return res.status;
}

describe.each([...API, ...BOARD].map((c) => [`${c.method} ${c.path()}`, c] as const))('%s', (_name, c) => {
  it(c.refusedToAll ? 'is refused to every role' : `needs ${c.needs}`, async () => {
    expect(await call(c)).toBe(401);
    for (const role of ROLES) {
      const status = await call(c, keys[role]);
      if (RANK[role] < RANK[c.needs] || c.refusedToAll) expect(status, `${role} must be refused`).toBe(403);
      else expect([401, 403], `${role} must be let through (got ${status})`).not.toContain(status);
    }
  });
});

describe('the matrix', () => {
  it('covers every route /openapi.json describes, at the role it documents', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { 'x-lookout-role': Role }>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([m, op]) => ({ method: m.toUpperCase(), template: p, role: op['x-lookout-role'] })),
    );
    const missing = documented.filter(({ method, template, role }) => {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}(\\?.*)?$`);
      return !API.some((c) => c.method === method && pattern.test(c.path()) && c.needs === role);
    });
    expect(missing).toEqual([]);
  });
});

describe('Bull Board writes with Basic auth', () => {
  const basic = (key: string) => `Basic ${Buffer.from(`admin:${key}`).toString('base64')}`;
  it('are refused without a same-host Origin (CSRF) and allowed from the board page', async () => {
    const path = '/admin/queues/api/queues/notify/pause';
    const foreign = await fetch(`${url}${path}`, { method: 'PUT', headers: { authorization: basic(keys.admin), origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as any).error.code).toBe('csrf');
    const none = await fetch(`${url}${path}`, { method: 'PUT', headers: { authorization: basic(keys.admin) } });
    expect(none.status).toBe(403);
    const own = await fetch(`${url}${path}`, { method: 'PUT', headers: { authorization: basic(keys.admin), origin: url } });
    expect([200, 204]).toContain(own.status);
    const reads = await fetch(`${url}/admin/queues/api/queues`, { headers: { authorization: basic(keys.operator) } });
    expect(reads.status).toBe(200);
  });
});

describe('every mutating request is audited', () => {
  it('with actor, role, route, outcome, source IP and request id', async () => {
    const res = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.viewer}`, 'content-type': 'application/json', 'x-request-id': 'req-audit-1' },
      body: JSON.stringify({ name: 'x', role: 'admin' }),
    });
    expect(res.status).toBe(403);
    await new Promise((r) => setTimeout(r, 200));
    const [row] = await env.sql<{ actor: string; outcome: string; details: Record<string, unknown> }>(
      `SELECT actor, outcome, details FROM audit_log WHERE details->>'requestId' = 'req-audit-1'`,
    );
    expect(row).toMatchObject({
      outcome: 'denied',
      details: { route: 'POST /v1/keys', status: 403, role: 'viewer', ip: expect.stringMatching(/127\.0\.0\.1/) },
    });
    expect(row!.actor).toMatch(/^key:/);
  });
});
