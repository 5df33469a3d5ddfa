// A restore runs once (issue 15, hole 6, reviewed): "failures are final: a
// restore is something an operator watches, not something to repeat behind
// their back". Failed restore jobs are kept 90 days, and Bull Board still
// lets an admin retry a job (or every failed job of the backup queue), as
// BullMQ's job.retry(), which keeps attemptsMade. Before: a replace-live
// restore refused because batches were running ran on such a retry, over
// the live database, with nobody waiting for it, under the actor of the
// original `cli` request.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseNameOf, dropDatabaseIfExists, withServer } from '../../src/db/server-admin.js';
import type { Services } from '../../src/runtime/services.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let worker: WorkerChild;
const previousDatabases: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('review_once', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BACKUP_VERIFY_AFTER: 'false' });
  services = await env.open();
  worker = await spawnWorker(env.env, ['--queues', 'backup']);
});
afterAll(async () => {
  await worker.stop();
  const kept = await withServer(env.config.databaseUrl, (admin) =>
    admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${databaseNameOf(env.config.databaseUrl)}_before_%`]),
  );
  for (const name of [...previousDatabases, ...kept.rows.map((r) => r.datname)])
    await withServer(env.config.databaseUrl, (admin) => dropDatabaseIfExists(admin, name));
  await env.cleanup();
});

const cli = (args: string[]) => runCli(args, { env: env.env });
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

async function settled(job: Job): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('restore job did not settle');
}

describe('a restore job runs once', () => {
  it('a retried replace-live restore is refused, and the live database stays as it was', async () => {
    const run = await cli(['backup', 'run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const batch = randomUUID();
    await env.sql(`INSERT INTO batches (id, status, model, min_score, total, created_by) VALUES ($1, 'running', 'yolo', 0.25, 1, 'test')`, [batch]);
    const refused = await cli([
      'backup',
      'restore',
      json(run.stdout).id,
      '--target-database',
      databaseNameOf(env.config.databaseUrl),
      '--replace-live',
      '--json',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/1 running/);

    // The batch finishes; later an admin retries the backup queue's failed jobs on the board.
    await env.sql(`UPDATE batches SET status = 'completed', finished_at = now() WHERE id = $1`, [batch]);
    await env.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'marker.after-refusal')`);
    const [failed] = (await services.queues.get('backup')!.getFailed()).filter((j) => j.name === 'restore');
    expect(failed).toBeDefined();
    await failed!.retry('failed');
    expect(await settled(failed!)).toBe('failed');
    const again = await services.queues.get('backup')!.getJob(failed!.id!);
    expect(again?.failedReason).toMatch(/already ran.*lookout backup restore/);

    // Live untouched: the batch finished since is there, no database was kept aside.
    expect(await env.sql(`SELECT status FROM batches WHERE id = $1`, [batch])).toEqual([{ status: 'completed' }]);
    const kept = await withServer(env.config.databaseUrl, (admin) =>
      admin.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${databaseNameOf(env.config.databaseUrl)}_before_%`]),
    );
    expect(kept.rows).toEqual([]);
    const rows = await env.sql<{ outcome: string; error: string }>(
      `SELECT outcome, details->>'error' AS error FROM audit_log WHERE action = 'backup.restore' ORDER BY id`,
    );
    expect(rows.map((r) => r.outcome)).toEqual(['error', 'error']);
    expect(rows[1]!.error).toMatch(/already ran/);
  });
});
