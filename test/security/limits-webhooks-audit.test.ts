// Rate limits shared by API replicas through Redis; batch completion
// webhooks (signed, private targets refused unless allowed); the audit log as
// seen by the application's own database user through psql.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/jobs/webhook/sign.js';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { startWebhookReceiver, until } from '../helpers/receivers.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const run = promisify(execFile);
const SECRET = `batch-secret-${randomBytes(8).toString('hex')}`;
let env: TestEnv;
let services: Services;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  env = await createTestEnv('limits', {
    RATE_LIMIT_PER_MINUTE: '6',
    BATCH_WEBHOOK_SECRET: SECRET,
    WEBHOOK_ALLOWED_HOSTS: new URL(hooks.url).host,
  });
  services = await env.open();
  await env.worker(services, { queues: ['detect', 'batches', 'notify'] });
});
afterAll(async () => {
  await env.cleanup();
  await hooks.close();
});

describe('rate limits', () => {
  it('hold across two API replicas and answer 429 with Retry-After', async () => {
    const a = (await env.api(services)).url;
    const b = (await env.api(await env.open())).url;
    const key = await env.key(services, 'viewer');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${i % 2 ? a : b}/v1/workers`, { headers: { authorization: `Bearer ${key}` } });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(((await res.json()) as any).error.code).toBe('rate_limited');
      } else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    // Another key has its own budget.
    const other = await env.key(services, 'viewer');
    expect((await fetch(`${a}/v1/workers`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(200);
  });
});

describe('batch completion webhooks', () => {
  it('refuse private targets unless allowed, and deliver a signed batch.finished', async () => {
    const url = (await env.api(services)).url;
    const key = await env.key(services, 'submitter');
    const photo = [{ name: 'camera.png', bytes: await readPhoto('camera.png') }];
    for (const target of ['http://127.0.0.1:9/hook', 'http://10.1.2.3/x', 'http://169.254.169.254/latest', 'http://[::1]/x', 'ftp://example.com/x']) {
      const res = await submit(url, key, photo, { webhookUrl: target });
      expect(res.status, target).toBe(400);
      expect(res.body.error.code).toBe(target.startsWith('ftp') ? 'webhook_target_refused' : 'webhook_target_refused');
    }
    const { status, body } = await submit(url, key, photo, { webhookUrl: hooks.url });
    expect(status).toBe(202);
    await waitForBatch(url, key, body.id);
    const hook = await until('the batch webhook', () => hooks.received.find((h) => h.json.batch?.id === body.id));
    expect(hook.json).toMatchObject({ event: 'batch.finished', batch: { id: body.id, status: 'completed', progress: { total: 1, done: 1, failed: 0 } } });
    expect(hook.headers['x-lookout-event']).toBe('batch.finished');
    expect(verifySignature(SECRET, String(hook.headers['x-lookout-timestamp']), hook.body, String(hook.headers['x-lookout-signature']))).toBe(true);
  });
});

describe('the audit log through psql', () => {
  it("the application's database user cannot UPDATE or DELETE audit rows", async () => {
    const role = `lookout_app_${randomBytes(3).toString('hex')}`;
    const database = new URL(env.config.databaseUrl).pathname.slice(1);
    await env.sql(`CREATE ROLE ${role} LOGIN`);
    await env.sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await env.sql(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    const psql = (sql: string) =>
      run('psql', ['-h', '127.0.0.1', '-U', role, '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atc', sql]).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    try {
      expect((await psql(`INSERT INTO audit_log (actor, action) VALUES ('psql', 'probe') RETURNING action`)).out).toMatch(/probe/);
      const update = await psql(`UPDATE audit_log SET actor = 'rewritten'`);
      expect(update.code).not.toBe(0);
      expect(update.out).toMatch(/audit_log is append-only: UPDATE refused/);
      const del = await psql(`DELETE FROM audit_log`);
      expect(del.code).not.toBe(0);
      expect(del.out).toMatch(/append-only: DELETE refused/);
      expect((await psql(`SELECT count(*) FROM audit_log WHERE actor = 'rewritten'`)).out.trim()).toBe('0');
    } finally {
      await env.sql(`DROP OWNED BY ${role}`);
      await env.sql(`DROP ROLE ${role}`);
    }
  });
});

describe('headers, CORS and the audit query', () => {
  it('helmet headers everywhere, no CORS unless configured, GET /v1/audit filters (admin)', async () => {
    const url = (await env.api(services)).url;
    const health = await fetch(`${url}/healthz`, { headers: { origin: 'https://elsewhere.example' } });
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    expect(health.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
    const withCors = (await env.api(await env.open((c) => ({ ...c, http: { ...c.http, corsOrigins: ['https://console.example'] } })))).url;
    const allowed = await fetch(`${withCors}/healthz`, { headers: { origin: 'https://console.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://console.example');
    const other = await fetch(`${withCors}/healthz`, { headers: { origin: 'https://elsewhere.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const admin = await env.key(services, 'admin');
    const res = await fetch(`${url}/v1/audit?action=key.create&limit=5`, { headers: { authorization: `Bearer ${admin}` } });
    const { entries } = (await res.json()) as { entries: Array<{ action: string; actor: string }> };
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.length).toBeLessThanOrEqual(5);
    expect(new Set(entries.map((e) => e.action))).toEqual(new Set(['key.create']));
    expect((await fetch(`${url}/v1/audit?colour=blue`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(400);
  });
});
