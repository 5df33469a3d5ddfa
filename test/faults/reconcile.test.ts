// Postgres is the source of truth: when Redis loses the queues (keys deleted,
// FLUSHALL), the reconciler finds the unfinished work and enqueues it again;
// a dry run changes nothing; two reconcilers at once re-enqueue each lost
// image once.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/producers/reconcile.js';
import { deleteQueueKeys } from '../../src/runtime/scratch-resources.js';
import type { Services } from '../../src/runtime/services.js';
import { EXPECTED_FACES } from '../helpers/photos.js';
import { startPrivateRedis } from '../helpers/private-servers.js';
import { until } from '../helpers/receivers.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, submit, type TestEnv } from '../helpers/test-env.js';
import { photoVariants } from '../helpers/variants.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function setup(label: string, servers: { redisUrl?: string } = {}) {
  const env = await createTestEnv(label, { JOB_LOCK_MS: '2000' }, servers);
  cleanups.push(() => env.cleanup());
  const services = await env.open();
  const url = (await env.api(services)).url;
  const key = await env.key(services, 'submitter');
  return { env, services, url, key };
}

const track = (w: WorkerChild) => {
  cleanups.push(() => w.stop());
  return w;
};

const count = async (env: TestEnv, id: string, status: string) =>
  (await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM images WHERE batch_id = $1 AND status = $2`, [id, status]))[0]!.n;

async function expectCompletedWithOneResultSetEach(env: TestEnv, id: string, files: Array<{ source: string }>) {
  await until(
    'the batch to complete',
    async () => {
      const [row] = await env.sql<{ status: string }>('SELECT status FROM batches WHERE id = $1', [id]);
      return row?.status === 'completed' ? true : undefined;
    },
    120_000,
  );
  const rows = await env.sql<{ rows: number }>(
    `SELECT (SELECT count(*)::int FROM detections d WHERE d.image_id = i.id) AS rows FROM images i WHERE i.batch_id = $1 ORDER BY i.position`,
    [id],
  );
  rows.forEach((r, i) => expect(r.rows).toBe(EXPECTED_FACES[files[i]!.source]));
}

const deps = (services: Services) => ({ ...services, logger: pino({ level: 'silent' }) });

describe('the reconciler', () => {
  it('finishes a 100-image batch after every Redis key of the prefix was deleted mid-batch', async () => {
    const { env, url, key } = await setup('reconcile_del');
    const worker = track(await spawnWorker(env.env, ['--queues', 'detect,batches', '--concurrency', '2']));
    const files = await photoVariants(100, 'recdel');
    const { body } = await submit(url, key, files);
    await until('some done', async () => ((await count(env, body.id, 'done')) >= 20 ? true : undefined), 60_000);
    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);
    const cli = await runCli(['reconcile', '--json'], { env: env.env });
    expect(cli.code, cli.stderr).toBe(0);
    const result = jsonLines(cli.stdout)[0]!;
    expect(result.requeuedImages).toBeGreaterThan(0);
    expect(result.requeuedImages).toBeLessThanOrEqual(80);
    await expectCompletedWithOneResultSetEach(env, body.id, files);
    expect(worker.child.exitCode).toBeNull();
  });

  it('finishes the batch after FLUSHALL on its own Redis', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const { env, services, url, key } = await setup('reconcile_flush', { redisUrl: redis.url });
    track(await spawnWorker(env.env, ['--queues', 'detect,batches', '--concurrency', '2']));
    const files = await photoVariants(60, 'recflush');
    const { body } = await submit(url, key, files);
    await until('some done', async () => ((await count(env, body.id, 'done')) >= 10 ? true : undefined), 60_000);
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    const result = await reconcile(deps(services));
    expect(result.requeuedImages).toBeGreaterThan(0);
    await expectCompletedWithOneResultSetEach(env, body.id, files);
  });

  it('a dry run changes nothing; two reconcilers racing re-enqueue each lost image once', async () => {
    const { env, services, url, key } = await setup('reconcile_race');
    const files = await photoVariants(20, 'recrace');
    const { body } = await submit(url, key, files); // no worker yet: everything waits
    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);
    const detect = services.queues.get('detect')!;

    const dry = await reconcile(deps(services), { dryRun: true });
    expect(dry).toEqual({ requeuedImages: 20, finalisedBatches: 0, restoredSchedulers: 2, dryRun: true });
    expect(await detect.count()).toBe(0);
    expect(await count(env, body.id, 'queued')).toBe(20);
    expect(await reconcile(deps(services), { dryRun: true })).toEqual(dry); // still all there to find

    const [a, b] = await Promise.all([reconcile(deps(services)), reconcile(deps(services))]);
    expect(a.requeuedImages + b.requeuedImages).toBe(20);
    expect(a.restoredSchedulers + b.restoredSchedulers).toBe(2);
    // Every detect job has a priority now (issue 17, scheduling): they wait in BullMQ's prioritized set.
    const waiting = await detect.getJobCounts('waiting', 'prioritized');
    expect(waiting.waiting! + waiting.prioritized!).toBe(20);
    const audit = await env.sql(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'reconcile.run'`);
    expect(audit[0]).toEqual({ n: 1 }); // the second run found nothing to do

    track(await spawnWorker(env.env, ['--queues', 'detect,batches']));
    await expectCompletedWithOneResultSetEach(env, body.id, files);
    expect(await reconcile(deps(services))).toEqual({ requeuedImages: 0, finalisedBatches: 0, restoredSchedulers: 0, dryRun: false });
  });
});
