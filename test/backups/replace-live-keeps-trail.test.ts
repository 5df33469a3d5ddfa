// A restore over the live database brings the data back, never revoked
// access and never an older audit trail: keys keep their live state, every
// audit row that existed stays with its id and content, the restore adds its
// own row after them, and ids are never reused. Unfinished batches refuse it
// unless --allow-running-batches; a backup whose trail is not part of the
// live one is refused. Through the CLI, as the README documents it.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseNameOf, dropDatabaseIfExists, urlForDatabase, withServer } from '../../src/db/server-admin.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let worker: WorkerChild;
let live: string;
const previousDatabases: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('replace_trail', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BACKUP_VERIFY_AFTER: 'false' });
  await env.open();
  live = databaseNameOf(env.config.databaseUrl);
  worker = await spawnWorker(env.env, ['--queues', 'backup']);
});
afterAll(async () => {
  await worker.stop();
  for (const name of previousDatabases) await withServer(env.config.databaseUrl, (admin) => dropDatabaseIfExists(admin, name));
  await env.cleanup();
});

const cli = (args: string[]) => runCli(args, { env: env.env });
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

async function createKey(name: string): Promise<{ id: string; token: string }> {
  const created = await cli(['keys', 'create', '--name', name, '--role', 'viewer']);
  expect(created.code, created.stderr).toBe(0);
  const token = created.stdout.trim();
  return { id: token.split('_')[1]!, token };
}

async function backUp(): Promise<string> {
  const run = await cli(['backup', 'run', '--json']);
  expect(run.code, run.stderr).toBe(0);
  return json(run.stdout).id as string;
}

/** A fresh API on the live database (the one opened before a restore had its connections cut). */
async function statusWith(token: string): Promise<number> {
  const api = await env.api(await env.open());
  const res = await fetch(`${api.url}/v1/batches`, authed(token));
  await res.arrayBuffer();
  return res.status;
}

interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: Record<string, any>;
}
const auditRows = (where = 'true', database = live) =>
  rowsIn<AuditRow>(database, `SELECT a.id::text AS id, at, actor, action, target, outcome, details FROM audit_log a WHERE ${where} ORDER BY a.id`);

async function rowsIn<T extends pg.QueryResultRow>(database: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: urlForDatabase(env.config.databaseUrl, database) });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function insertBatch(status: 'queued' | 'running' | 'completed'): Promise<string> {
  const id = randomUUID();
  await env.sql(`INSERT INTO batches (id, status, model, min_score, total, created_by) VALUES ($1, $2, 'yolo', 0.25, 1, 'test')`, [id, status]);
  const imageStatus = status === 'completed' ? 'done' : status;
  await env.sql(
    `INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, status)
     VALUES ($1, $2, 0, 'a.jpg', $3, 1, $3, 'yolo', 0.25, $4)`,
    [randomUUID(), id, 'ab'.repeat(32), imageStatus],
  );
  return id;
}

async function restoreOverLive(backupId: string, extra: string[] = []) {
  const restore = await cli(['backup', 'restore', backupId, '--target-database', live, '--replace-live', ...extra, '--json']);
  const body = json(restore.stdout);
  if (typeof body.previous === 'string') previousDatabases.push(body.previous);
  return { code: restore.code, body, output: restore.stdout + restore.stderr };
}

describe('lookout backup restore --replace-live', () => {
  it('keeps revocations, keys made since, and every audit row; the restore row comes after them and ids are never reused', async () => {
    const revoked = await createKey('revoked-after-backup');
    const kept = await createKey('kept');
    expect(await statusWith(revoked.token)).toBe(200);
    const backupId = await backUp();
    const dataAfterBackup = await insertBatch('completed'); // data: the restore takes it away

    const revoke = await cli(['keys', 'revoke', revoked.id]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const madeSince = await createKey('made-after-backup');
    await env.sql(`INSERT INTO audit_log (actor, action, target) VALUES ('test', 'marker.after_backup', 'x')`);
    // An audit id handed out and rolled back: never handed out again either.
    await env.sql(
      `DO $$ BEGIN INSERT INTO audit_log (actor, action) VALUES ('test', 'marker.rolled_back'); RAISE EXCEPTION 'undo'; EXCEPTION WHEN OTHERS THEN NULL; END $$`,
    );
    const seq = (await env.sql<{ seq: string }>(`SELECT pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'id')::regclass)::text AS seq`))[0]!.seq;
    expect(await statusWith(revoked.token)).toBe(401);

    const before = await auditRows();
    const lastBefore = BigInt(before.at(-1)!.id);
    expect(BigInt(seq)).toBeGreaterThan(lastBefore);
    expect(before.filter((r) => r.action === 'key.revoke').map((r) => r.target)).toEqual([`key:${revoked.id}`]);

    const restore = await restoreOverLive(backupId);
    expect(restore.code, restore.output).toBe(0);

    // Access: the revoked key stays revoked, the others work.
    expect(await statusWith(revoked.token)).toBe(401);
    expect(await statusWith(kept.token)).toBe(200);
    expect(await statusWith(madeSince.token)).toBe(200);
    // Data: the backup's.
    expect(await env.sql('SELECT id FROM batches WHERE id = $1', [dataAfterBackup])).toEqual([]);

    // Every row that existed before the restore, same id, same content.
    const after = await auditRows();
    expect(after.filter((r) => BigInt(r.id) <= lastBefore)).toEqual(before);
    expect(restore.body).toMatchObject({
      status: 'restored',
      database: live,
      previous: expect.any(String),
      safetyBackupId: expect.any(String),
      auditId: expect.any(String),
    });
    // Then the restore's own row (naming the safety backup), last of all and past the rolled-back id.
    const restoreRow = after.at(-1)!;
    expect(restoreRow).toMatchObject({
      id: restore.body.auditId,
      actor: 'cli',
      action: 'backup.restore',
      target: `backup:${backupId}`,
      outcome: 'ok',
      details: {
        database: live,
        previous: restore.body.previous,
        safetyBackupId: restore.body.safetyBackupId,
        carried: { lastIdBeforeRestore: before.at(-1)!.id, apiKeysCarried: 3 },
      },
    });
    expect(BigInt(restoreRow.id)).toBeGreaterThan(BigInt(seq));
    expect(BigInt(restoreRow.details.carried.backupLastId)).toBeLessThan(lastBefore);
    expect(after.slice(before.length).map((r) => r.action)).toEqual(['backup.restore']);

    // Audited work after the restore continues past every id.
    await createKey('after-restore');
    const newest = await auditRows(`id > ${restoreRow.id}`);
    expect(newest.map((r) => r.action)).toEqual(['key.create']);
    expect(BigInt(newest[0]!.id)).toBeGreaterThan(BigInt(restoreRow.id));
    expect(new Set((await auditRows()).map((r) => r.id)).size).toBe(after.length + 1);
  });

  it('refuses while batches are queued or running, saying how many, unless --allow-running-batches', async () => {
    const backupId = await backUp();
    const queued = await insertBatch('queued');
    const running = await insertBatch('running');
    const catalogueBefore = await env.sql('SELECT id, status FROM backups ORDER BY created_at');
    const auditBefore = await auditRows();

    const refused = await restoreOverLive(backupId);
    expect(refused.code).toBe(1);
    expect(refused.body.error).toMatch(/1 batch\(es\) queued and 1 running/);
    expect(refused.body.error).toContain(queued);
    expect(refused.body.error).toContain('--allow-running-batches');
    // Nothing changed: no safety backup, the same database, the batches still there.
    expect(await env.sql('SELECT id, status FROM backups ORDER BY created_at')).toEqual(catalogueBefore);
    expect((await env.sql<{ id: string }>(`SELECT id FROM batches WHERE status IN ('queued', 'running') ORDER BY id`)).map((r) => r.id)).toEqual(
      [queued, running].sort(),
    );
    const refusalRows = await auditRows(`id > ${auditBefore.at(-1)!.id}`);
    expect(refusalRows).toMatchObject([{ action: 'backup.restore', outcome: 'error', details: { error: expect.stringMatching(/queued/) } }]);

    const forced = await restoreOverLive(backupId, ['--allow-running-batches']);
    expect(forced.code, forced.output).toBe(0);
    const [row] = await auditRows(`id = ${forced.body.auditId}`);
    expect(row!.details.unfinishedBatches).toEqual({ queued: 1, running: 1, ids: expect.arrayContaining([queued, running]) });
    expect(await env.sql('SELECT id FROM batches WHERE id = ANY($1)', [[queued, running]])).toEqual([]);
    expect(await auditRows(`id <= ${auditBefore.at(-1)!.id}`)).toEqual(auditBefore);
  });

  it('refuses a backup whose audit trail is not part of the live one, and leaves the live database as it was', async () => {
    const backupId = await backUp();
    // The live trail rewritten after the backup (as a restore before this fix did): only a superuser can.
    const [last] = await env.sql<{ id: string }>(`SELECT min(id)::text AS id FROM audit_log`);
    await env.sql(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`);
    await env.sql(`UPDATE audit_log SET action = 'rewritten' WHERE id = $1`, [last!.id]);
    await env.sql(`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`);
    const auditBefore = await auditRows();

    const refused = await restoreOverLive(backupId);
    expect(refused.code).toBe(1);
    expect(refused.body.error).toMatch(/audit trail is not part of the live one/);
    expect(refused.body.error).toContain(last!.id);
    expect(await auditRows(`id <= ${auditBefore.at(-1)!.id}`)).toEqual(auditBefore);
    const open = await withServer(
      env.config.databaseUrl,
      async (admin) => (await admin.query('SELECT datname FROM pg_database WHERE datname = $1 AND datallowconn', [live])).rows,
    );
    expect(open).toEqual([{ datname: live }]); // still there, still taking connections
  });
});
