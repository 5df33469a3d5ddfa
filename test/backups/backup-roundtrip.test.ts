// Backups on real Postgres through the real queue: fill the database with a
// real batch, back up with the CLI, verify, restore into a new database and
// compare every table's content. Then tampered files and the wrong key:
// verify and restore fail clearly, audit it, and leave the target untouched.
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { urlForDatabase, withServer, databaseExists, dropDatabaseIfExists } from '../../src/db/server-admin.js';
import type { Services } from '../../src/runtime/services.js';
import { MIGRATIONS } from '../../src/db/migrations/index.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/run-cli.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const KEY = randomBytes(32).toString('base64');
let env: TestEnv;
let services: Services;
let apiUrl: string;
const created: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('backup', { BACKUP_ENCRYPTION_KEY: KEY });
  services = await env.open();
  const url = (apiUrl = (await env.api(services)).url);
  await env.worker(services, { queues: ['detect', 'batches', 'backup'] });
  const key = await env.key(services, 'admin');
  const files = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
  const { body } = await submit(url, key, files);
  expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
});
afterAll(async () => {
  await withServer(env.config.databaseUrl, async (admin) => {
    for (const name of created) await dropDatabaseIfExists(admin, name);
  });
  await env.cleanup();
});

async function tableContents(databaseUrl: string): Promise<Record<string, unknown[]>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      out[name] = (await client.query(`SELECT * FROM ${pg.escapeIdentifier(name)} ORDER BY 1`)).rows;
    }
    return out;
  } finally {
    await client.end();
  }
}

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env.env, ...extra } });
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

async function backupNow(): Promise<Record<string, any>> {
  const run = await cli(['backup', 'run', '--json']);
  expect(run.code, run.stderr).toBe(0);
  return json(run.stdout);
}

describe('backup, verify, restore', () => {
  let backup: Record<string, any>;
  let before: Record<string, unknown[]>;

  beforeAll(async () => {
    before = await tableContents(env.config.databaseUrl);
    backup = await backupNow();
  });

  it('backup run --json waits and prints the contract', async () => {
    expect(Object.keys(backup).sort()).toEqual(['bytes', 'file', 'id', 'sha256', 'status']);
    expect(backup.status).toBe('succeeded');
    expect((await stat(backup.file)).size).toBe(backup.bytes);
    // Encrypted: none of the stored file is readable text of the dump.
    const bytes = await readFile(backup.file);
    expect(bytes.subarray(0, 8).toString()).toBe('LKBACK01');
    expect(bytes.includes(Buffer.from('astronaut.png'))).toBe(false);
    const manifest = JSON.parse(await readFile(backup.file.replace(/\.lkb$/, '.json'), 'utf8'));
    expect(manifest).toMatchObject({ id: backup.id, sha256: backup.sha256, storedBytes: backup.bytes, migration: MIGRATIONS.at(-1)!.name });
    expect(manifest.rowCounts).toMatchObject({ images: 6, batches: 1 });
    const list = json((await cli(['backup', 'list', '--json'])).stdout) as unknown as Array<Record<string, any>>;
    expect(list.map((b) => b.id)).toContain(backup.id);
  });

  it('verify --json restores into a scratch database and says verified', async () => {
    const verify = await cli(['backup', 'verify', backup.id, '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(json(verify.stdout)).toEqual({ id: backup.id, status: 'verified' });
    const [row] = await env.sql<{ status: string }>('SELECT status FROM backups WHERE id = $1', [backup.id]);
    expect(row?.status).toBe('verified');
    // No scratch database left behind. The query sees the whole server, where other test files'
    // verifies may hold a scratch database for a moment: those go, a leaked one would stay.
    let scratch: unknown[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      scratch = await env.sql(`SELECT datname FROM pg_database WHERE datname LIKE 'lookout_scratch_%'`);
      if (scratch.length === 0) break;
    }
    expect(scratch).toEqual([]);
  }, 120_000);

  it('restore --target-database gives back every table, row for row', async () => {
    const target = `lookout_t_restored_${randomBytes(3).toString('hex')}`;
    created.push(target);
    const restore = await cli(['backup', 'restore', backup.id, '--target-database', target, '--json']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(json(restore.stdout)).toMatchObject({ id: backup.id, status: 'restored', database: target });
    const restored = await tableContents(urlForDatabase(env.config.databaseUrl, target));
    // The backup's own catalogue row was 'running' in the dumped snapshot.
    expect(restored.backups).toEqual([expect.objectContaining({ id: backup.id, status: 'running' })]);
    // Workers heartbeat all the time: the same processes, other timestamps.
    const ids = (rows: unknown[]) => (rows as Array<{ id: string }>).map((r) => r.id).sort();
    expect(ids(restored.workers!)).toEqual(ids(before.workers!));
    const { backups: _r, workers: _rw, ...restoredRest } = restored;
    const { backups: _b, workers: _bw, ...beforeRest } = before;
    expect(Object.keys(restoredRest)).toEqual([
      'alerts',
      'api_keys',
      'audit_log',
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
    ]);
    expect(restoredRest).toEqual(beforeRest);
    expect((restoredRest.detections as unknown[]).length).toBe(2);
  });

  it('refuses to restore over an existing database and leaves it untouched', async () => {
    const target = `lookout_t_existing_${randomBytes(3).toString('hex')}`;
    created.push(target);
    await withServer(env.config.databaseUrl, (admin) => admin.query(`CREATE DATABASE ${target}`));
    const restore = await cli(['backup', 'restore', backup.id, '--target-database', target, '--json']);
    expect(restore.code).toBe(1);
    expect(json(restore.stdout)).toMatchObject({ status: 'failed', error: expect.stringMatching(/already exists/) });
    expect(await tableContents(urlForDatabase(env.config.databaseUrl, target))).toEqual({});
  });
});

describe('the backup API', () => {
  it('POST /v1/backups, GET /v1/backups, POST /v1/backups/:id/verify (operator and up)', async () => {
    const operator = await env.key(services, 'operator');
    const submitter = await env.key(services, 'submitter');
    const call = (method: string, path: string, key: string) =>
      fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as Record<string, any>,
      }));

    expect((await call('POST', '/v1/backups', submitter)).status).toBe(403);
    expect((await call('GET', '/v1/backups', submitter)).status).toBe(403);
    const started = await call('POST', '/v1/backups', operator);
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const deadline = Date.now() + 60_000;
    let status = '';
    while (Date.now() < deadline && status !== 'verified') {
      status = ((await call('GET', `/v1/backups/${id}`, operator)).body.status as string) ?? '';
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('verified'); // BACKUP_VERIFY_AFTER: a verify follows every backup
    const list = await call('GET', '/v1/backups', operator);
    expect(list.body.backups.map((b: any) => b.id)).toContain(id);
    const verify = await call('POST', `/v1/backups/${id}/verify`, operator);
    expect(verify).toMatchObject({ status: 202, body: { id, status: 'verifying' } });
    expect((await call('POST', '/v1/backups/00000000-0000-4000-8000-000000000000/verify', operator)).status).toBe(404);
    const audit = await env.sql<{ actor: string }>(`SELECT actor FROM audit_log WHERE action = 'backup.run' AND target = $1`, [`backup:${id}`]);
    expect(audit[0]?.actor).toMatch(/^key:/);
  });
});

describe('tampered backups and the wrong key', () => {
  async function expectRefused(id: string, error: RegExp, extraEnv: Record<string, string> = {}) {
    const verify = await cli(['backup', 'verify', id, '--json'], extraEnv);
    expect(verify.code).toBe(1);
    expect(json(verify.stdout)).toMatchObject({ id, status: 'verify_failed', error: expect.stringMatching(error) });
    const target = `lookout_t_tampered_${randomBytes(3).toString('hex')}`;
    created.push(target);
    const restore = await cli(['backup', 'restore', id, '--target-database', target, '--json'], extraEnv);
    expect(restore.code).toBe(1);
    expect(json(restore.stdout)).toMatchObject({ status: 'failed', error: expect.stringMatching(error) });
    expect(await withServer(env.config.databaseUrl, (admin) => databaseExists(admin, target))).toBe(false);
    const audit = await env.sql<{ action: string; outcome: string }>(
      `SELECT action, outcome FROM audit_log WHERE target = $1 AND action IN ('backup.verify', 'backup.restore') ORDER BY id DESC LIMIT 2`,
      [`backup:${id}`],
    );
    expect(audit).toEqual([
      { action: 'backup.restore', outcome: 'error' },
      { action: 'backup.verify', outcome: 'error' },
    ]);
  }

  it('one flipped byte', async () => {
    const b = await backupNow();
    const bytes = await readFile(b.file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(b.file, bytes);
    await expectRefused(b.id, /sha256 .* it was modified or truncated/);
  });

  it('a truncated file', async () => {
    const b = await backupNow();
    await truncate(b.file, Math.floor(b.bytes / 2));
    await expectRefused(b.id, /modified or truncated/);
  });

  it('a flipped byte with a matching catalogue sha256 still fails the GCM tag', async () => {
    const b = await backupNow();
    const bytes = await readFile(b.file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(b.file, bytes);
    // An attacker who can also edit the catalogue: the tag still catches it.
    await env.sql('UPDATE backups SET sha256 = $2 WHERE id = $1', [b.id, createHash('sha256').update(bytes).digest('hex')]);
    await expectRefused(b.id, /authentication failed/);
  });

  it('the wrong key', async () => {
    const b = await backupNow();
    // A worker whose configuration holds another key.
    await env.closeWorkers();
    const other = await env.open((c) => ({ ...c, backup: { ...c.backup, key: randomBytes(32), oldKeys: [] } }));
    await env.worker(other, { queues: ['backup'] });
    await expectRefused(b.id, /encrypted with key id [0-9a-f]{16}, which is not configured/);
  });
});
