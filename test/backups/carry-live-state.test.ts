// The carry of a replace-live restore at the library level, for the orders
// the CLI test cannot arrange: an audit id handed out before the first pass
// but committed after it, and ids rolled back in the live database.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carryLiveState, stageLiveTrail } from '../../src/backups/carry-live-state.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let liveEnv: TestEnv;
let restoredEnv: TestEnv;
const clients: pg.Client[] = [];

async function client(env: TestEnv): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: env.config.databaseUrl });
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  liveEnv = await createTestEnv('carry_live');
  restoredEnv = await createTestEnv('carry_restored');
  await liveEnv.open();
  await restoredEnv.open();
});
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await liveEnv?.cleanup();
  await restoredEnv?.cleanup();
});

const actions = async (env: TestEnv) => env.sql<{ id: string; action: string }>(`SELECT a.id::text AS id, a.action FROM audit_log a ORDER BY a.id`);

describe('carryLiveState', () => {
  it('carries a row committed out of id order after the first pass, and continues past rolled-back ids', async () => {
    await liveEnv.sql(`INSERT INTO audit_log (actor, action, details) VALUES ('t', 'a1', '{"n": 1}'), ('t', 'a2', '{}')`);
    const backupRows = await actions(liveEnv);
    // The "backup": the same rows, same ids and content, in the restored database.
    // (as JSON text: a JS Date would drop the microseconds)
    const dump = await liveEnv.sql<{ rows: string }>(`SELECT json_agg(a)::text AS rows FROM audit_log a`);
    await restoredEnv.sql('INSERT INTO audit_log SELECT * FROM json_populate_recordset(NULL::audit_log, $1::json)', [dump[0]!.rows]);
    const live = await client(liveEnv);
    const restored = await client(restoredEnv);

    // An id taken now, committed only after the first pass; a later one committed at once.
    const slow = await client(liveEnv);
    await slow.query('BEGIN');
    const slowId = (await slow.query<{ id: string }>(`INSERT INTO audit_log (actor, action) VALUES ('t', 'slow') RETURNING id::text AS id`)).rows[0]!.id;
    await liveEnv.sql(`INSERT INTO audit_log (actor, action) VALUES ('t', 'fast')`);

    const staged = await stageLiveTrail(live, restored);
    expect(staged.backupLastId).toBe(backupRows.at(-1)!.id);

    await slow.query('COMMIT');
    await liveEnv.sql(
      `DO $$ BEGIN INSERT INTO audit_log (actor, action) VALUES ('t', 'rolled_back'); RAISE EXCEPTION 'undo'; EXCEPTION WHEN OTHERS THEN NULL; END $$`,
    );
    const rolledBack = BigInt((await liveEnv.sql<{ s: string }>(`SELECT pg_sequence_last_value('audit_log_id_seq')::text AS s`))[0]!.s);

    const carried = await carryLiveState(live, restored, staged, { actor: 'test', action: 'backup.restore', target: 'backup:x', details: {} });
    const liveRows = await actions(liveEnv);
    const restoredRows = await actions(restoredEnv);
    expect(restoredRows.slice(0, -1)).toEqual(liveRows);
    expect(restoredRows.map((r) => r.action)).toContain('slow');
    expect(restoredRows.find((r) => r.action === 'slow')!.id).toBe(slowId);
    expect(restoredRows.at(-1)).toEqual({ id: carried.auditId, action: 'backup.restore' });
    expect(BigInt(carried.auditId)).toBe(rolledBack + 1n);
    expect(carried).toMatchObject({ lastIdBeforeRestore: liveRows.at(-1)!.id, auditRowsCarried: liveRows.length - backupRows.length });
  });
});
