// A replace-live restore and the install's own operational state (issue 15,
// hole 6, reviewed): alerts (with their silences), milestones and the fleet
// describe the install as it is now, not data of the backup's day. Restoring
// yesterday's backup must neither re-silence a firing alert with a silence
// that ended (the backup's alert row, open and silenced, coming back in place
// of today's unsilenced one), nor drop a silence an operator set since (and
// audited), nor forget when backups were turned on.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseNameOf, dropDatabaseIfExists, withServer } from '../../src/db/server-admin.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let worker: WorkerChild;
const previousDatabases: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('review_alerts', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BACKUP_VERIFY_AFTER: 'false' });
  await env.open();
  worker = await spawnWorker(env.env, ['--queues', 'backup']);
});
afterAll(async () => {
  await worker.stop();
  for (const name of previousDatabases) await withServer(env.config.databaseUrl, (admin) => dropDatabaseIfExists(admin, name));
  await env.cleanup();
});

const cli = (args: string[]) => runCli(args, { env: env.env });
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

async function insertAlert(rule: string, status: 'firing' | 'resolved', silencedUntil: string | null): Promise<string> {
  const id = randomUUID();
  await env.sql(
    `INSERT INTO alerts (id, rule, key, severity, status, message, fired_at, resolved_at, silenced_until, silenced_by)
     VALUES ($1, $2, 'k', 'critical', $3, 'review', now(), CASE WHEN $3 = 'resolved' THEN now() END, $4::timestamptz, CASE WHEN $4::text IS NOT NULL THEN 'key:0000aaaa' END)`,
    [id, rule, status, silencedUntil],
  );
  return id;
}

describe("replace-live restore keeps the install's alerts and milestones", () => {
  it('as they are now, not as the backup had them', async () => {
    // In the backup: a disk alert firing and silenced for a month.
    const silencedThen = await insertAlert('disk_low', 'firing', new Date(Date.now() + 30 * 86_400_000).toISOString());
    const run = await cli(['backup', 'run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    // Since: that alert resolved; the disk filled again and a new alert fires, unsilenced.
    await env.sql(`UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = $1`, [silencedThen]);
    const firingNow = await insertAlert('disk_low', 'firing', null);
    // Since: an operator silenced another alert; backups were turned on.
    const silencedSince = await insertAlert('queue_backlog', 'firing', new Date(Date.now() + 3_600_000).toISOString());
    await env.sql(`INSERT INTO milestones (name, at) VALUES ('review.since-backup', now())`);
    const before = await env.sql(`SELECT id, status, silenced_until FROM alerts ORDER BY id`);

    const restore = await cli([
      'backup',
      'restore',
      json(run.stdout).id,
      '--target-database',
      databaseNameOf(env.config.databaseUrl),
      '--replace-live',
      '--json',
    ]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    previousDatabases.push(json(restore.stdout).previous as string);

    const open = await env.sql<{ id: string; silenced_until: Date | null }>(
      `SELECT id, silenced_until FROM alerts WHERE rule = 'disk_low' AND status <> 'resolved'`,
    );
    expect(open).toEqual([{ id: firingNow, silenced_until: null }]);
    expect(await env.sql(`SELECT id, status, silenced_until FROM alerts ORDER BY id`)).toEqual(before);
    expect((await env.sql(`SELECT silenced_by FROM alerts WHERE id = $1`, [silencedSince]))[0]).toEqual({ silenced_by: 'key:0000aaaa' });
    expect(await env.sql(`SELECT name FROM milestones WHERE name = 'review.since-backup'`)).toEqual([{ name: 'review.since-backup' }]);
  });
});
