// Migrations down and up on a real database, the append-only audit log, and
// `lookout keys create` printing only the key while storing only its hash.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/api-keys.js';
import { migrateDown, migrateUp, pendingMigrations } from '../../src/db/migrate.js';
import { MIGRATIONS } from '../../src/db/migrations/index.js';
import type { Services } from '../../src/runtime/services.js';
import { runCli } from '../helpers/run-cli.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;

beforeAll(async () => {
  env = await createTestEnv('db');
  services = await env.open();
});
afterAll(() => env.cleanup());

const tables = async () =>
  (await env.sql<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)).map((r) => r.tablename);

const NAMES = MIGRATIONS.map((m) => m.name);

describe('migrations', () => {
  it('down removes every table step by step, up brings them back; both are idempotent', async () => {
    expect(await tables()).toEqual([
      'alerts',
      'api_keys',
      'audit_log',
      'backups',
      'batches',
      'blob_removals',
      'detections',
      'health_checks',
      'image_stats_pending',
      'image_stats_rollup',
      'images',
      'lookout_migrations',
      'milestones',
      'models',
      'workers',
    ]);
    expect(await pendingMigrations(services.pool)).toEqual([]);
    for (const name of [...NAMES].reverse()) expect(await migrateDown(services.pool)).toEqual([name]);
    expect(await tables()).toEqual(['lookout_migrations']);
    expect(await pendingMigrations(services.pool)).toEqual(NAMES);
    expect(await migrateDown(services.pool)).toEqual([]);
    expect(await migrateUp(services.pool)).toEqual(NAMES);
    expect(await migrateUp(services.pool)).toEqual([]);
    expect(await tables()).toContain('audit_log');
  });

  it('concurrent migrate up from many replicas applies each migration once', async () => {
    await migrateDown(services.pool, NAMES.length);
    const results = await Promise.all([1, 2, 3, 4].map(() => migrateUp(services.pool)));
    expect(results.flat()).toEqual(NAMES);
  });

  it('the CLI runs migrate down and up', async () => {
    const down = await runCli(['migrate', 'down', '--steps', String(NAMES.length)], { env: env.env });
    expect(down.code).toBe(0);
    expect(down.stdout).toBe(`reverted: ${[...NAMES].reverse().join(', ')}\n`);
    const up = await runCli(['migrate', 'up'], { env: env.env });
    expect(up.code).toBe(0);
    expect(up.stdout).toBe(`applied: ${NAMES.join(', ')}\n`);
  });
});

describe('audit_log', () => {
  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    await env.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'probe')`);
    await expect(env.sql(`UPDATE audit_log SET actor = 'someone else'`)).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(env.sql(`DELETE FROM audit_log`)).rejects.toThrow(/append-only: DELETE refused/);
    await expect(env.sql(`TRUNCATE audit_log`)).rejects.toThrow(/append-only: TRUNCATE refused/);
    expect((await env.sql(`SELECT actor FROM audit_log WHERE action = 'probe'`))[0]).toEqual({ actor: 'test' });
  });
});

describe('lookout keys create', () => {
  it('prints only the key, stores only its hash, and audits the creation', async () => {
    const { code, stdout } = await runCli(['keys', 'create', '--name', 'ci-admin', '--role', 'admin'], { env: env.env });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^lk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}\n$/);
    const token = stdout.trim();
    const [, id, secret] = /^lk_([0-9a-f]{8})_(.+)$/.exec(token)!;
    const [row] = await env.sql<{ name: string; role: string; secret_hash: string }>('SELECT name, role, secret_hash FROM api_keys WHERE id = $1', [id]);
    expect(row).toEqual({ name: 'ci-admin', role: 'admin', secret_hash: createHash('sha256').update(secret!).digest('hex') });
    const dump = JSON.stringify(await env.sql('SELECT * FROM api_keys'));
    expect(dump).not.toContain(secret);
    expect(await authenticate(services.pool, token)).toMatchObject({ keyId: id, role: 'admin', actor: `key:${id}` });
    const audit = await env.sql(`SELECT actor, action, details FROM audit_log WHERE target = $1`, [`key:${id}`]);
    expect(audit).toEqual([{ actor: 'cli', action: 'key.create', details: { name: 'ci-admin', role: 'admin' } }]);
  });

  it('refuses an unknown role', async () => {
    const { code, stderr } = await runCli(['keys', 'create', '--name', 'x', '--role', 'god'], { env: env.env });
    expect(code).toBe(2);
    expect(stderr).toMatch(/expected one of admin, operator, submitter, viewer/);
  });
});
