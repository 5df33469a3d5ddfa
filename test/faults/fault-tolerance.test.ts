// Real processes, real faults: a detect worker killed with SIGKILL, Postgres
// down for 20 s, Redis (with AOF) restarted, and a worker drained by SIGTERM,
// each in the middle of a batch. Every batch completes with every image
// holding exactly one result set.
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivatePostgres, startPrivateRedis } from '../helpers/private-servers.js';
import { EXPECTED_FACES } from '../helpers/photos.js';
import { until } from '../helpers/receivers.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, submit, type TestEnv } from '../helpers/test-env.js';
import { photoVariants } from '../helpers/variants.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function setup(label: string, servers: { adminDatabaseUrl?: string; redisUrl?: string } = {}, extra: Record<string, string> = {}) {
  const env = await createTestEnv(label, { JOB_LOCK_MS: '2000', HEARTBEAT_MS: '500', ...extra }, servers);
  cleanups.push(() => env.cleanup());
  const services = await env.open();
  const url = (await env.api(services)).url;
  const key = await env.key(services, 'submitter');
  return { env, services, url, key };
}

function track(worker: WorkerChild): WorkerChild {
  cleanups.push(() => {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    return Promise.resolve();
  });
  return worker;
}

const batchRow = async (env: TestEnv, id: string) =>
  (await env.sql<{ status: string }>('SELECT status FROM batches WHERE id = $1', [id]).catch(() => []))[0]?.status;

async function waitDone(env: TestEnv, id: string, timeoutMs: number): Promise<string> {
  return until(
    `batch ${id}`,
    async () => {
      const status = await batchRow(env, id);
      return status && status !== 'queued' && status !== 'running' ? status : undefined;
    },
    timeoutMs,
  );
}

/** Every image done, with exactly the detections its source photo has. */
async function expectOneResultSetEach(env: TestEnv, id: string, files: Array<{ source: string }>) {
  const rows = await env.sql<{ status: string; rows: number }>(
    `SELECT i.status, (SELECT count(*)::int FROM detections d WHERE d.image_id = i.id) AS rows FROM images i WHERE i.batch_id = $1 ORDER BY i.position`,
    [id],
  );
  expect(rows).toHaveLength(files.length);
  rows.forEach((row, i) => {
    expect(row.status).toBe('done');
    expect(row.rows).toBe(EXPECTED_FACES[files[i]!.source]);
  });
}

const doneCount = async (env: TestEnv, id: string) =>
  (await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM images WHERE batch_id = $1 AND status = 'done'`, [id]))[0]!.n;

describe('fault tolerance', () => {
  it('kill -9 of one of two detect workers mid-batch (200 images): none lost, none duplicated', async () => {
    const { env, url, key } = await setup('kill9');
    const args = ['--queues', 'detect,batches', '--concurrency', '2'];
    const [a, b] = [track(await spawnWorker(env.env, args)), track(await spawnWorker(env.env, args))];
    const files = await photoVariants(200, 'kill9');
    const { body } = await submit(url, key, files);
    await until('a quarter done', async () => ((await doneCount(env, body.id)) >= 50 ? true : undefined), 60_000);
    a.child.kill('SIGKILL');
    expect(await waitDone(env, body.id, 120_000)).toBe('completed');
    await expectOneResultSetEach(env, body.id, files);
    expect(await b.stop()).toBe(0);
  });

  it('Postgres stopped for 20 s mid-batch: jobs retry and the batch completes', async () => {
    const pg = await startPrivatePostgres();
    cleanups.push(() => pg.destroy());
    const { env, url, key } = await setup('pgdown', { adminDatabaseUrl: pg.url });
    const worker = track(await spawnWorker(env.env, ['--queues', 'detect,batches', '--concurrency', '2']));
    const files = await photoVariants(60, 'pgdown');
    const { body } = await submit(url, key, files);
    await until('some done', async () => ((await doneCount(env, body.id)) >= 5 ? true : undefined), 60_000);
    await pg.stop();
    await new Promise((r) => setTimeout(r, 20_000));
    await pg.start();
    expect(await waitDone(env, body.id, 180_000)).toBe('completed');
    await expectOneResultSetEach(env, body.id, files);
    expect(worker.child.exitCode).toBeNull(); // the worker rode it out
    expect(await worker.stop()).toBe(0);
  });

  it('Redis with AOF restarted mid-batch: the batch completes, nothing lost', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const { env, url, key } = await setup('redisrestart', { redisUrl: redis.url });
    const worker = track(await spawnWorker(env.env, ['--queues', 'detect,batches', '--concurrency', '2']));
    const files = await photoVariants(60, 'redis');
    const { body } = await submit(url, key, files);
    await until('some done', async () => ((await doneCount(env, body.id)) >= 5 ? true : undefined), 60_000);
    await redis.restart();
    expect(await waitDone(env, body.id, 120_000)).toBe('completed');
    await expectOneResultSetEach(env, body.id, files);
    expect(await worker.stop()).toBe(0);
  });

  it('SIGTERM during a batch: active jobs finish, none stalled, exit 0 within the grace period', async () => {
    const { env, services, url, key } = await setup('drain', {}, { SHUTDOWN_GRACE_MS: '10000' });
    const worker = track(await spawnWorker(env.env, ['--queues', 'detect', '--concurrency', '4']));
    const files = await photoVariants(80, 'drain');
    const { body } = await submit(url, key, files);
    await until('some done', async () => ((await doneCount(env, body.id)) >= 10 ? true : undefined), 60_000);
    const started = Date.now();
    expect(await worker.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const counts = await services.queues.get('detect')!.getJobCounts('active', 'waiting');
    expect(counts.active).toBe(0); // nothing left holding a lock
    const running = await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM images WHERE batch_id = $1 AND status = 'running'`, [body.id]);
    expect(running[0]!.n).toBe(0); // every job it started, it finished
    // Another worker finishes the rest, and nothing ran twice.
    const next = track(await spawnWorker(env.env, ['--queues', 'detect,batches']));
    expect(await waitDone(env, body.id, 120_000)).toBe('completed');
    const attempts = await env.sql<{ max: number }>(`SELECT max(attempts)::int AS max FROM images WHERE batch_id = $1`, [body.id]);
    expect(attempts[0]!.max).toBe(1);
    await expectOneResultSetEach(env, body.id, files);
    expect(await next.stop()).toBe(0);
  });
});
