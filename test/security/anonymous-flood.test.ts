// Failed authentications are rate-limited per client address before any key
// is trusted, for /v1 and Bull Board alike: a flood of anonymous requests gets
// 429 once over the budget and leaves a bounded number of audit rows, while
// valid keys from the same address keep working (limited per key) and a real
// key's refused action is still audited per request. X-Forwarded-For names the
// client only when the peer is a proxy TRUST_PROXY trusts. Failed
// authentications are logged without the token.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config/config.js';
import { startApi } from '../../src/api/server.js';
import type { Services } from '../../src/runtime/services.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

const LIMIT = 20;
let env: TestEnv;
let services: Services;
let url: string;

beforeAll(async () => {
  env = await createTestEnv('anon_flood', { RATE_LIMIT_ANONYMOUS_PER_MINUTE: String(LIMIT) });
  services = await env.open();
  url = (await env.api(services)).url;
});
afterAll(() => env.cleanup());

/** A token of the right shape whose key does not exist. */
const bogusToken = () => `lk_${randomBytes(4).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  code: string | undefined;
}

async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), code };
}

/** One anonymous request of five kinds, /v1 and the board: no key, bogus keys, malformed Bearer and Basic. */
function anonymous(i: number, from: string): Promise<Answer> {
  const xff = { 'x-forwarded-for': from };
  switch (i % 5) {
    case 0:
      return call(url, 'POST', '/v1/batches', xff);
    case 1:
      return call(
        url,
        'POST',
        '/v1/keys',
        { ...xff, authorization: `Bearer ${bogusToken()}`, 'content-type': 'application/json' },
        '{"name":"x","role":"admin"}',
      );
    case 2:
      return call(url, 'DELETE', '/v1/keys/deadbeef', { ...xff, authorization: 'Bearer not-a-key' });
    case 3:
      // Basic whose decoded value has no colon: no password at all.
      return call(url, 'PUT', '/admin/queues/api/queues/detect/pause', { ...xff, authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` });
    default:
      return call(url, 'GET', '/admin/queues/api/queues', { ...xff, authorization: basic('admin', bogusToken()) });
  }
}

async function inBatches<T>(count: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => one(start + k)))));
  }
  return out;
}

/** Audit rows from one client address, once the asynchronous writes have landed. */
type AuditRow = { actor: string; action: string; outcome: string; target: string | null; details: Record<string, any> };

/**
 * The audit rows whose client address is `ip`. Rows are written when each
 * answer has been sent, so this waits (up to 10 s) until `atLeast` rows are
 * there, then 300 ms more for any row beyond them, and reads again.
 */
async function auditFrom(ip: string, atLeast = 0, which: (r: AuditRow) => boolean = () => true): Promise<AuditRow[]> {
  const read = async () =>
    (await env.sql<AuditRow>(`SELECT actor, action, outcome, target, details FROM audit_log WHERE details->>'ip' = $1 ORDER BY id`, [ip])).filter(which);
  for (const until = Date.now() + 10_000; (await read()).length < atLeast && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  return read();
}

describe('a flood of 1,500 anonymous requests from one address', () => {
  const FROM = '203.0.113.10';
  let answers: Answer[];

  beforeAll(async () => {
    // The first alone, so that it is the address's first failure of the window.
    answers = [await anonymous(0, FROM), ...(await inBatches(1499, 50, (i) => anonymous(i + 1, FROM)))];
  });

  it(`gets ${LIMIT} × 401, then 429 with Retry-After for the rest`, () => {
    expect(answers[0]!.status).toBe(401);
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1500 - LIMIT);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.code).toBe('rate_limited');
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(a.retryAfter)).toBeLessThanOrEqual(60);
    }
  });

  it('leaves two audit rows: the first denial and one auth.throttled for the address', async () => {
    // Each row is written once its own answer is sent, so the two may land in either order.
    const rows = (await auditFrom(FROM, 2)).sort((a, b) => a.action.localeCompare(b.action)).reverse();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ actor: 'anonymous', action: 'http.request', outcome: 'denied', details: { route: 'POST /v1/batches', status: 401 } });
    expect(rows[1]).toMatchObject({
      actor: 'anonymous',
      action: 'auth.throttled',
      outcome: 'denied',
      target: `ip:${FROM}`,
      details: { ip: FROM, limit: LIMIT, windowSeconds: 60 },
    });
  });

  it('still lets a valid key from that address through, and audits its refused action per request', async () => {
    const viewer = await env.key(services, 'viewer');
    const headers = { 'x-forwarded-for': FROM, authorization: `Bearer ${viewer}` };
    expect((await call(url, 'GET', '/v1/workers', headers)).status).toBe(200);
    for (const id of ['flood-403-a', 'flood-403-b']) {
      const denied = await call(url, 'POST', '/v1/keys', { ...headers, 'content-type': 'application/json', 'x-request-id': id }, '{"name":"x","role":"admin"}');
      expect(denied.status).toBe(403);
    }
    const rows = await auditFrom(FROM, 2, (r) => r.actor.startsWith('key:'));
    // Each row is written once its answer is sent: the two may land in either order.
    expect(rows.map((r) => [r.details.requestId, r.outcome, r.details.status, r.details.role]).sort()).toEqual([
      ['flood-403-a', 'denied', 403, 'viewer'],
      ['flood-403-b', 'denied', 403, 'viewer'],
    ]);
  });
});

describe('valid keys never count against their address', () => {
  it('100 requests with valid keys from one address, then its failed-auth budget is whole', async () => {
    const from = '203.0.113.11';
    const keys = [await env.key(services, 'viewer'), await env.key(services, 'operator')];
    const ok = await inBatches(100, 25, (i) => call(url, 'GET', '/v1/workers', { 'x-forwarded-for': from, authorization: `Bearer ${keys[i % 2]}` }));
    expect(ok.map((a) => a.status)).toEqual(Array(100).fill(200));
    const failed = await inBatches(LIMIT + 1, 1, () => call(url, 'GET', '/v1/workers', { 'x-forwarded-for': from }));
    expect(failed.map((a) => a.status)).toEqual([...Array(LIMIT).fill(401), 429]);
  });
});

describe('the client address', () => {
  const exhaust = (base: string, headers: Record<string, string>) => inBatches(LIMIT, 1, () => call(base, 'GET', '/v1/workers', headers));

  it('is the X-Forwarded-For address from a trusted proxy (loopback by default): two addresses, two budgets', async () => {
    expect(env.config.http.trustProxy).toEqual(['loopback']);
    expect((await exhaust(url, { 'x-forwarded-for': '198.51.100.1' })).every((a) => a.status === 401)).toBe(true);
    expect((await call(url, 'GET', '/v1/workers', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
    expect((await call(url, 'POST', '/v1/batches', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(401);
    const rows = await auditFrom('198.51.100.2', 1);
    expect(rows.map((r) => [r.action, r.details.status])).toEqual([['http.request', 401]]);
  });

  it('groups IPv6 clients by /56', async () => {
    expect((await exhaust(url, { 'x-forwarded-for': '2001:db8:aa:100::1' })).every((a) => a.status === 401)).toBe(true);
    expect((await call(url, 'GET', '/v1/workers', { 'x-forwarded-for': '2001:db8:aa:1ff::9' })).status).toBe(429);
    expect((await call(url, 'GET', '/v1/workers', { 'x-forwarded-for': '2001:db8:aa:200::1' })).status).toBe(401);
  });

  it('is the peer itself when the peer is not a trusted proxy: forwarded addresses share its budget', async () => {
    const untrusted = (await env.api(await env.open((c) => ({ ...c, http: { ...c.http, trustProxy: [] } })))).url;
    const answers = await inBatches(LIMIT + 2, 1, (i) => call(untrusted, 'GET', '/v1/workers', { 'x-forwarded-for': `198.51.100.${50 + (i % 2)}` }));
    expect(answers.map((a) => a.status)).toEqual([...Array(LIMIT).fill(401), 429, 429]);
    // The peer, not the header, is what the audit trail records.
    expect((await call(untrusted, 'POST', '/v1/batches', { 'x-forwarded-for': '198.51.100.52' })).status).toBe(429);
    expect(await auditFrom('198.51.100.52')).toEqual([]);
    expect((await auditFrom('198.51.100.50')).length + (await auditFrom('198.51.100.51')).length).toBe(0);
    const peer = await env.sql<{ action: string; ip: string }>(
      `SELECT action, details->>'ip' AS ip FROM audit_log WHERE action = 'auth.throttled' AND details->>'ip' LIKE '%127.0.0.1'`,
    );
    expect(peer).toHaveLength(1);
  });
});

describe('the default budget', () => {
  it('is 30 failed authentications a minute per address, well under the per-key limit, and applies', async () => {
    const defaults = loadConfig({}).http;
    expect(defaults.anonymousPerMinute).toBe(30);
    expect(defaults.anonymousPerMinute).toBeLessThan(defaults.rateLimitPerMinute);
    const base = (await env.api(await env.open((c) => ({ ...c, http: { ...c.http, anonymousPerMinute: defaults.anonymousPerMinute } })))).url;
    const answers = await inBatches(31, 1, () => call(base, 'GET', '/v1/workers', { 'x-forwarded-for': '192.0.2.77' }));
    expect(answers.map((a) => a.status)).toEqual([...Array(30).fill(401), 429]);
  });
});

describe('failed authentications are logged', () => {
  it('with address, route, reason and the key id, never the token or its secret', async () => {
    const { logger, lines } = captureLogger('debug');
    const api = await startApi({ ...services, logger }, 0);
    try {
      const base = `http://127.0.0.1:${api.port}`;
      const from = '192.0.2.5';
      const made = await env.key(services, 'admin');
      const [, id, secret] = /^lk_([0-9a-f]{8})_(.+)$/.exec(made)!;
      await revokeKey(services.pool, id!, 'test');
      const bogus = bogusToken();
      const xff = { 'x-forwarded-for': from };
      expect((await call(base, 'GET', '/v1/workers', { ...xff, authorization: `Bearer ${made}` })).status).toBe(401);
      expect((await call(base, 'GET', '/admin/queues/api/queues', { ...xff, authorization: basic('admin', made) })).status).toBe(401);
      expect((await call(base, 'POST', '/v1/batches', { ...xff, authorization: `Bearer ${bogus}` })).status).toBe(401);
      expect((await call(base, 'GET', '/v1/workers', { ...xff, authorization: `Bearer ${secret}` })).status).toBe(401);
      expect((await call(base, 'GET', '/v1/workers', xff)).status).toBe(401);

      const failures = lines.filter((l) => l.msg === 'authentication failed');
      expect(failures.map((l) => [l.ip, l.route, l.reason, l.keyId ?? null])).toEqual([
        [from, 'GET /v1/workers', 'rejected_key', id],
        [from, 'GET /admin/queues/api/queues', 'rejected_key', id],
        [from, 'POST /v1/batches', 'rejected_key', bogus.slice(3, 11)],
        [from, 'GET /v1/workers', 'malformed_key', null],
        [from, 'GET /v1/workers', 'missing_key', null],
      ]);
      expect(failures.every((l) => l.level === 40)).toBe(true);

      // Over the budget: one warning when the address is refused, the rest at debug.
      const more = await inBatches(LIMIT, 1, () => call(base, 'GET', '/v1/workers', { ...xff, authorization: `Bearer ${bogus}` }));
      expect(more.map((a) => a.status)).toEqual([...Array(LIMIT - 5).fill(401), ...Array(5).fill(429)]);
      const from5 = lines.filter((l) => l.ip === from);
      expect(from5.filter((l) => l.msg === 'authentication failed')).toHaveLength(LIMIT);
      expect(from5.filter((l) => l.level === 40 && /^too many failed authentications/.test(l.msg))).toMatchObject([
        { failures: LIMIT + 1, reason: 'rejected_key' },
      ]);
      expect(from5.filter((l) => l.level === 20 && l.msg === 'failed authentication refused: address over its budget')).toHaveLength(4);

      const everything = lines.map((l) => JSON.stringify(l)).join('\n');
      for (const leaked of [secret!, made, bogus, bogus.slice(12), Buffer.from(`admin:${made}`).toString('base64')]) {
        expect(everything).not.toContain(leaked);
      }
    } finally {
      await api.close();
    }
  });
});
