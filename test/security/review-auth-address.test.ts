// Review of issue 15, hole 4 (a variant): the failed-authentication budget
// counts per client address, but a trusted proxy that writes the client's
// port into X-Forwarded-For (`203.0.113.7:51234`, `[2001:db8::7]:443`, as
// some cloud load balancers do) made every new connection a new "address":
// each got its own budget and its own audit row, so the flood limit and the
// audit bound did not hold at all behind such a proxy. The port is not part
// of the address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../../src/api/failed-auth-limit.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

describe('the address a failure counts against', () => {
  it.each([
    ['203.0.113.7:51234', '203.0.113.7'],
    ['203.0.113.7:1', '203.0.113.7'],
    ['[2001:db8:0:1::7]:443', '2001:db8:0:1::7'],
    ['[2001:db8:0:1::7]', '2001:db8:0:1::7'],
    ['[::ffff:203.0.113.7]:8080', '203.0.113.7'],
  ])('%s counts as %s', (spelled, plain) => {
    expect(addressKey(spelled)).toBe(addressKey(plain));
  });

  it('addresses stay apart as before: IPv4 per address, IPv6 per /56, IPv4-mapped as IPv4', () => {
    expect(addressKey('203.0.113.7')).toBe('ip:203.0.113.7');
    expect(addressKey('203.0.113.8')).not.toBe(addressKey('203.0.113.7'));
    expect(addressKey('2001:db8:0:1::7')).toBe(addressKey('2001:db8:0:ff::1'));
    expect(addressKey('2001:db8:0:100::1')).not.toBe(addressKey('2001:db8:0:ff::1'));
    expect(addressKey('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
    expect(addressKey(undefined)).toBe('ip:unknown');
  });
});

describe('behind a trusted proxy that forwards ip:port', () => {
  const LIMIT = 5;
  let env: TestEnv;
  let services: Services;
  let url: string;
  beforeAll(async () => {
    env = await createTestEnv('review_auth_address', { RATE_LIMIT_ANONYMOUS_PER_MINUTE: String(LIMIT) });
    services = await env.open();
    url = (await env.api(services)).url;
  });
  afterAll(() => env.cleanup());

  it.each([
    ['198.51.100.20', (i: number) => `198.51.100.20:${40000 + i}`],
    ['2001:db8:5::', (i: number) => `[2001:db8:5::${(i + 1).toString(16)}]:${40000 + i}`],
  ])('new source ports of %s share one budget: 5 × 401, then 429, and two audit rows', async (client, forwarded) => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      // The test's loopback peer is the proxy TRUST_PROXY trusts by default.
      const res = await fetch(`${url}/v1/batches`, { method: 'POST', headers: { 'x-forwarded-for': forwarded(i) } });
      await res.text();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(401), ...Array<number>(12 - LIMIT).fill(429)]);
    let rows: Array<{ action: string }> = [];
    for (let i = 0; i < 40; i++) {
      rows = await env.sql<{ action: string }>(`SELECT action FROM audit_log WHERE details->>'ip' LIKE $1 ORDER BY id`, [`%${client}%`]);
      if (rows.length >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    rows = await env.sql<{ action: string }>(`SELECT action FROM audit_log WHERE details->>'ip' LIKE $1 ORDER BY id`, [`%${client}%`]);
    expect(rows.map((r) => r.action)).toEqual(['http.request', 'auth.throttled']);
  });
});
