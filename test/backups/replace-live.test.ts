// Restoring over the live database: refused without --replace-live; with it,
// a safety backup first, the old database kept under another name, the
// restored data live, and the backup catalogue and audit trail carried over
// (replace-live-keeps-trail.test.ts has the trail and the keys in detail).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseNameOf, dropDatabaseIfExists, urlForDatabase, withServer } from '../../src/db/server-admin.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let worker: WorkerChild;
let previous: string | undefined;

beforeAll(async () => {
  env = await createTestEnv('replace_live', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BACKUP_VERIFY_AFTER: 'false' });
  await env.open();
  worker = await spawnWorker(env.env, ['--queues', 'backup']);
});
afterAll(async () => {
  await worker.stop();
  if (previous) await withServer(env.config.databaseUrl, (admin) => dropDatabaseIfExists(admin, previous!));
  await env.cleanup();
});

const cli = (args: string[]) => runCli(args, { env: env.env });
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

/** Audit markers (the trail) and model rows (data) named marker.* in `database`. */
async function markers(database: string): Promise<{ audit: string[]; data: string[] }> {
  const client = new pg.Client({ connectionString: urlForDatabase(env.config.databaseUrl, database) });
  await client.connect();
  try {
    const audit = (await client.query<{ action: string }>(`SELECT action FROM audit_log WHERE action LIKE 'marker.%' ORDER BY id`)).rows.map((r) => r.action);
    const data = (await client.query<{ name: string }>(`SELECT name FROM models WHERE name LIKE 'marker.%' ORDER BY registered_at`)).rows.map((r) => r.name);
    return { audit, data };
  } finally {
    await client.end();
  }
}
const mark = async (name: string) => {
  await env.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', $1)`, [name]);
  await env.sql(`INSERT INTO models (name, version, sha256, license) VALUES ($1, '1', 'x', 'test')`, [name]);
};
const both = ['marker.before', 'marker.after'];

describe('restore over the live database', () => {
  it('needs --replace-live, takes a safety backup, keeps the old database and the catalogue', async () => {
    const live = databaseNameOf(env.config.databaseUrl);
    await mark('marker.before');
    const run = await cli(['backup', 'run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const backup = json(run.stdout);
    await mark('marker.after');

    const refused = await cli(['backup', 'restore', backup.id, '--target-database', live, '--json']);
    expect(refused.code).toBe(1);
    expect(json(refused.stdout).error).toMatch(/live database: replacing it needs --replace-live/);
    expect(await markers(live)).toEqual({ audit: both, data: both }); // untouched

    const restore = await cli(['backup', 'restore', backup.id, '--target-database', live, '--replace-live', '--json']);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    const result = json(restore.stdout);
    previous = result.previous as string;
    expect(result).toMatchObject({
      status: 'restored',
      database: live,
      previous: expect.stringMatching(new RegExp(`^${live}_before_\\d{14}$`)),
      safetyBackupId: expect.any(String),
    });

    expect(await markers(live)).toEqual({ audit: both, data: ['marker.before'] }); // the backup's data is live, the trail carried
    expect(await markers(previous)).toEqual({ audit: both, data: both }); // the old database, kept

    const catalogue = await env.sql<{ id: string; status: string; trigger: string }>('SELECT id, status, trigger FROM backups ORDER BY created_at');
    expect(catalogue).toEqual([
      { id: backup.id, status: 'succeeded', trigger: 'manual' },
      { id: result.safetyBackupId, status: 'succeeded', trigger: 'safety' },
    ]);
    const audit = await env.sql<{ outcome: string; details: Record<string, unknown> }>(
      `SELECT outcome, details FROM audit_log WHERE action = 'backup.restore' ORDER BY id DESC LIMIT 1`,
    );
    expect(audit[0]).toMatchObject({ outcome: 'ok', details: { database: live, previous } });
  });
});
