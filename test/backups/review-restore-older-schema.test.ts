// A replace-live restore of a backup taken before an upgrade (issue 15, hole
// 6, reviewed): the running API and workers never migrate, so the restored
// database must come back at this version's schema, with the live API keys
// carried into it whole, before it takes the live name. Before: the restored
// database kept the backup's older schema (lookout_migrations without the
// newer migrations, workers without heartbeat_ms) and the fleet view failed.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src/backups/run-backup.js';
import { MIGRATIONS } from '../../src/db/migrations/index.js';
import { insertBackup } from '../../src/db/repositories/backups.js';
import { databaseNameOf, dropDatabaseIfExists, withServer } from '../../src/db/server-admin.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let worker: WorkerChild | undefined;
const previousDatabases: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('review_older', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BACKUP_VERIFY_AFTER: 'false' });
  await env.open();
});
afterAll(async () => {
  await worker?.stop();
  for (const name of previousDatabases) await withServer(env.config.databaseUrl, (admin) => dropDatabaseIfExists(admin, name));
  await env.cleanup();
});

const cli = (args: string[]) => runCli(args, { env: env.env });
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

describe('replace-live restore of a backup from an older schema', () => {
  it('comes back at the current schema, with the live keys', async () => {
    const last = MIGRATIONS[MIGRATIONS.length - 1]!.name;
    const down = await cli(['migrate', 'down']);
    expect(down.code, down.stderr).toBe(0);
    // What an older Lookout's nightly backup was: its schema, its catalogue row.
    const backupId = randomUUID();
    const services = await env.open();
    await insertBackup(services.pool, { id: backupId, trigger: 'manual', actor: 'cli' });
    await runBackup(
      { pool: services.pool, databaseUrl: env.config.databaseUrl, dir: env.config.backup.dir, key: env.config.backup.key!, now: () => new Date() },
      backupId,
    );
    const up = await cli(['migrate', 'up']);
    expect(up.stdout).toContain(last);

    const key = await cli(['keys', 'create', '--name', 'after-upgrade', '--role', 'viewer']);
    expect(key.code, key.stderr).toBe(0);
    worker = await spawnWorker(env.env, ['--queues', 'backup']);
    const restore = await cli(['backup', 'restore', backupId, '--target-database', databaseNameOf(env.config.databaseUrl), '--replace-live', '--json']);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    previousDatabases.push(json(restore.stdout).previous as string);

    const applied = await env.sql<{ name: string }>('SELECT name FROM lookout_migrations ORDER BY name');
    expect(applied.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
    const [row] = await env.sql<{ details: Record<string, unknown> }>('SELECT details FROM audit_log WHERE id = $1::bigint', [json(restore.stdout).auditId]);
    expect(row?.details.migrationsApplied).toEqual([last]);
    const workers = await cli(['workers', '--json']);
    expect(workers.code, workers.stderr).toBe(0);
    const api = await env.api(await env.open());
    const res = await fetch(`${api.url}/v1/batches`, authed(key.stdout.trim()));
    expect(res.status).toBe(200);
  });
});
