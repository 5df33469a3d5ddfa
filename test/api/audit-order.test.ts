// GET /v1/audit is newest first by the entry's number, whatever the count
// (ids 9 and 10 sort as numbers, not as text), and pages with `before` without
// gaps or repeats, with and without filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit } from '../../src/db/repositories/audit-log.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let admin: string;

beforeAll(async () => {
  env = await createTestEnv('audit_order');
  services = await env.open();
  url = (await env.api(services)).url;
  admin = await env.key(services, 'admin');
  // 123 entries: ids cross 9→10 and 99→100, where text order and number order differ.
  for (let i = 0; i < 123; i++) {
    await appendAudit(services.pool, { actor: 'test', action: i % 3 === 0 ? 'probe.three' : 'probe.other', target: `n:${i}` });
  }
});
afterAll(() => env.cleanup());

async function audit(query: string): Promise<{ status: number; ids: string[]; body: Record<string, any> }> {
  const res = await fetch(`${url}/v1/audit?${query}`, { headers: { authorization: `Bearer ${admin}` } });
  const body = (await res.json()) as Record<string, any>;
  return { status: res.status, ids: res.status === 200 ? body.entries.map((e: { id: string }) => e.id) : [], body };
}

const descendingNumbers = (ids: string[]) => ids.map(Number).every((n, i, all) => i === 0 || all[i - 1]! > n);

describe('GET /v1/audit order and paging', () => {
  it('is newest first by id, numerically, across 9→10 and 99→100', async () => {
    // Sorted by the bigint column itself (an alias named id would sort as text).
    const all = await env.sql<{ id: string }>('SELECT id::text AS id FROM audit_log ORDER BY audit_log.id DESC');
    expect(all.length).toBeGreaterThanOrEqual(123);
    const { status, ids, body } = await audit('limit=1000');
    expect(status).toBe(200);
    expect(ids).toEqual(all.map((r) => r.id));
    expect(ids[0]).toBe(String(Math.max(...ids.map(Number))));
    expect(descendingNumbers(ids)).toBe(true);
    // The newest entry is the last one written by this test.
    const probes = body.entries.filter((e: { action: string }) => e.action.startsWith('probe.'));
    expect(probes[0].target).toBe('n:122');
    expect(probes.at(-1).target).toBe('n:0');
  });

  it.each([
    ['no filter', '', 7],
    ['an action filter', 'action=probe.three&', 4],
    ['an actor filter', 'actor=test&', 10],
  ])('pages with before=<last id> cover every entry exactly once (%s)', async (_label, filter, limit) => {
    const whole = (await audit(`${filter}limit=1000`)).ids;
    const paged: string[] = [];
    let before = '';
    for (let pages = 0; pages < 200; pages++) {
      const page = await audit(`${filter}limit=${limit}${before ? `&before=${before}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.ids.length).toBeLessThanOrEqual(limit);
      if (page.ids.length === 0) break;
      paged.push(...page.ids);
      before = page.ids.at(-1)!;
    }
    expect(paged).toEqual(whole);
    expect(new Set(paged).size).toBe(paged.length);
    expect(descendingNumbers(paged)).toBe(true);
  });

  it.each([
    ['since=garbage', /since: expected an ISO 8601 time/],
    ['until=2026-13-45', /until: expected an ISO 8601 time/],
    ['limit=5&limit=6', /limit: expected one whole number from 1 to 1000/],
    ['limit=ten', /limit: expected one whole number from 1 to 1000/],
  ])('refuses %s with a message that says what is expected', async (query, message) => {
    const res = await audit(query);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'bad_request', message: expect.stringMatching(message) });
  });

  it.each(['abc', '0', '-5', '1.5', '99999999999999999999'])('refuses before=%s with 400 bad_request', async (before) => {
    const res = await audit(`before=${encodeURIComponent(before)}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
  });
});
