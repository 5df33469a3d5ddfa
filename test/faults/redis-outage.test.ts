// Redis goes away under a running API and worker (a test's own redis-server):
// stopped (connections refused) or paused with SIGSTOP (sockets open, no
// answers). Nothing waits on it: reads that need only Postgres answer at once,
// what needs the queues answers 503 queue_unavailable at once and keeps no
// rows or blobs, /readyz says not_ready, /metrics answers, the CLI gives up
// within 10 s naming the URL (password masked). Once Redis is back (restarted
// empty, or resumed) submits work again, the worker that rode it out finishes
// them, and the job schedulers are back without anyone running reconcile.
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPECTED_FACES } from '../helpers/photos.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-servers.js';
import { until } from '../helpers/receivers.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, fsBlobDir, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';
import { photoVariants } from '../helpers/variants.js';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { freePort } from '../helpers/ports.js';
import type { Services } from '../../src/runtime/services.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A request that gives up after 10 s (a hang shows as status 0), with how long it took. */
async function call(url: string, key: string | undefined, pathname: string, init: { method?: string; json?: unknown } = {}) {
  const started = performance.now();
  try {
    const res = await fetch(`${url}${pathname}`, {
      method: init.method ?? 'GET',
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (an image, metrics text)
    }
    return { status: res.status, body, ms: performance.now() - started };
  } catch (err) {
    return { status: 0, body: String(err), ms: performance.now() - started };
  }
}

/** POST /v1/batches, timed; a hang shows as status 0. */
async function timedSubmit(url: string, key: string, files: Array<{ name: string; bytes: Buffer }>) {
  const started = performance.now();
  const result = await Promise.race([
    submit(url, key, files),
    new Promise<{ status: number; body: Record<string, any> }>((resolve) => setTimeout(() => resolve({ status: 0, body: { hung: true } }), 10_000).unref()),
  ]);
  return { ...result, ms: performance.now() - started };
}

/** Every blob file under BLOB_DIR (content-addressed names), sorted. */
async function blobFiles(env: TestEnv): Promise<string[]> {
  const entries = await readdir(fsBlobDir(env.config), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

async function rowCounts(env: TestEnv) {
  const [row] = await env.sql<{ batches: number; images: number }>(
    'SELECT (SELECT count(*)::int FROM batches) AS batches, (SELECT count(*)::int FROM images) AS images',
  );
  return row!;
}

interface Fleet {
  env: TestEnv;
  services: Services;
  url: string;
  admin: string;
  submitter: string;
  worker: WorkerChild;
  redis: PrivateRedis;
}

async function startFleet(label: string): Promise<Fleet> {
  const redis = await startPrivateRedis();
  cleanups.push(() => redis.destroy());
  const env = await createTestEnv(
    label,
    { JOB_LOCK_MS: '5000', HEARTBEAT_MS: '500', BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
    { redisUrl: redis.url },
  );
  cleanups.push(() => env.cleanup());
  const services = await env.open();
  const url = (await env.api(services)).url;
  const admin = await env.key(services, 'admin');
  const submitter = await env.key(services, 'submitter');
  // Consumes the health queue, so this process owns the health-probe and reconcile schedulers.
  const worker = await spawnWorker(env.env, ['--queues', 'detect,batches,health', '--concurrency', '2']);
  cleanups.push(() => {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    return Promise.resolve();
  });
  return { env, services, url, admin, submitter, worker, redis };
}

async function completedBatch(fleet: Fleet, files: Array<{ name: string; source: string; bytes: Buffer }>) {
  const res = await submit(fleet.url, fleet.submitter, files);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const batch = await waitForBatch(fleet.url, fleet.submitter, res.body.id as string, 120_000);
  expect(batch.status).toBe('completed');
  const results = await call(fleet.url, fleet.submitter, `/v1/batches/${res.body.id}/results`);
  expect(results.body.images.map((i: { detections: unknown[] }) => i.detections.length)).toEqual(files.map((f) => EXPECTED_FACES[f.source]));
  return results.body as { id: string; images: Array<{ id: string }> };
}

const schedulerIds = async (services: Services): Promise<string[] | undefined> => {
  try {
    const list = await services.queues.get('health')!.getJobSchedulers();
    return list.map((s) => s.key).sort();
  } catch {
    return undefined; // not reachable yet
  }
};

const READS_ONLY_POSTGRES = (batchId: string, imageId: string) => [
  '/v1/batches',
  `/v1/batches/${batchId}`,
  `/v1/batches/${batchId}/results`,
  `/v1/images/${imageId}/original`,
  '/v1/workers',
  '/v1/audit?limit=5',
  '/v1/keys',
  '/v1/me',
  '/v1/info',
  '/v1/backups',
  '/v1/alerts',
];

/** While Redis does not answer: what must answer at once, and how. */
async function expectNothingWaitsOnRedis(fleet: Fleet, done: { id: string; images: Array<{ id: string }> }, fresh: Buffer, seen: Buffer) {
  const { url, admin, submitter, env } = fleet;
  for (const pathname of READS_ONLY_POSTGRES(done.id, done.images[0]!.id)) {
    const res = await call(url, admin, pathname);
    expect({ pathname, status: res.status }).toEqual({ pathname, status: 200 });
    expect(res.ms, pathname).toBeLessThan(2000);
  }
  const health = await call(url, admin, '/v1/health');
  expect(health.status).toBe(503); // critical: the probe says why, at once
  expect(health.body.components.find((c: { name: string }) => c.name === 'redis').status).toBe('critical');
  expect(health.ms).toBeLessThan(2000);

  const queueRoutes = [
    { pathname: '/v1/queues' },
    { pathname: '/v1/queues/detect/pause', method: 'POST', json: {} },
    { pathname: '/v1/backups', method: 'POST' },
    { pathname: '/admin/queues/api/queues' },
  ];
  for (const r of queueRoutes) {
    const res = await call(url, admin, r.pathname, r);
    expect({ pathname: r.pathname, status: res.status, code: res.body?.error?.code }).toEqual({ pathname: r.pathname, status: 503, code: 'queue_unavailable' });
    expect(res.ms, r.pathname).toBeLessThan(2000);
  }

  const ready = await call(url, undefined, '/readyz');
  expect(ready.status).toBe(503);
  expect(ready.body.status).toBe('not_ready');
  expect(ready.body.checks.redis.ok).toBe(false);
  expect(ready.ms).toBeLessThan(2500);
  const metrics = await call(url, undefined, '/metrics');
  expect(metrics.status).toBe(200);
  expect(metrics.body).toContain('process_cpu_seconds_total');
  expect(metrics.ms).toBeLessThan(2000);

  // A submit: 503 at once, no rows, no blobs; a blob an earlier image uses stays.
  const rowsBefore = await rowCounts(env);
  const blobsBefore = await blobFiles(env);
  const res = await timedSubmit(url, submitter, [
    { name: 'fresh.png', bytes: fresh },
    { name: 'seen-before.png', bytes: seen },
  ]);
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 503, code: 'queue_unavailable' });
  expect(res.ms).toBeLessThan(2000);
  expect(await rowCounts(env)).toEqual(rowsBefore);
  expect(await blobFiles(env)).toEqual(blobsBefore);

  // A large upload is refused before its body is read: the answer comes while
  // most of the declared bytes have not even been sent.
  const early = await answerToPartialUpload(url, submitter, fresh);
  expect(early.head).toMatch(/^HTTP\/1\.1 503 /);
  expect(early.head).toContain('queue_unavailable');
  expect(early.ms).toBeLessThan(2000);
  expect(await blobFiles(env)).toEqual(blobsBefore);
}

/** Sends the head of a POST /v1/batches declaring 200 MB and a first slice of an image, then waits for an answer (10 s at most). */
async function answerToPartialUpload(url: string, key: string, bytes: Buffer): Promise<{ head: string; ms: number }> {
  const { hostname, port } = new URL(url);
  const boundary = 'lookout-outage-boundary';
  const started = performance.now();
  const socket = net.connect(Number(port), hostname);
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `POST /v1/batches HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${key}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 200000000\r\n\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`,
  );
  socket.write(bytes.subarray(0, Math.min(bytes.length, 64 * 1024)));
  const deadline = Date.now() + 10_000;
  while (!received.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - started;
  socket.destroy();
  return { head: received, ms };
}

/** The CLI's Redis commands give up within 10 s, exit 1, name the URL with its password masked, no stack trace. */
async function expectCliGivesUp(fleet: Fleet) {
  const port = new URL(fleet.redis.url).port;
  const withPassword = `redis://:s3cret-pw@127.0.0.1:${port}`;
  // A backup the key could verify: the command must say Redis is away, not that the backup failed verification.
  const backupId = randomUUID();
  await fleet.env.sql(
    `INSERT INTO backups (id, status, trigger, actor, file, sha256, finished_at) VALUES ($1, 'verified', 'manual', 'test', '/backups/x.lkb', 'ab', now())`,
    [backupId],
  );
  for (const args of [
    ['queues', 'list'],
    ['reconcile', '--json'],
    ['backup', 'verify', backupId, '--json'],
    ['backup', 'restore', backupId, '--target-database', 'lookout_t_never', '--json'],
  ]) {
    const started = performance.now();
    const cli = await runCli(args, { env: { ...fleet.env.env, REDIS_URL: withPassword } });
    const ms = performance.now() - started;
    expect({ args, code: cli.code }).toEqual({ args, code: 1 });
    expect(ms).toBeLessThan(10_000);
    expect(cli.stderr).toContain(`redis://:********@127.0.0.1:${port}`);
    expect(cli.stderr).not.toContain('s3cret-pw');
    expect(cli.stderr).not.toMatch(/\n\s+at /);
    expect(cli.stdout).toBe('');
    // One line, the command's own: no log lines of the services before it.
    expect(cli.stderr).toMatch(/^lookout: cannot reach Redis at [^\n]+\n$/);
  }
  expect((await fleet.env.sql<{ status: string }>('SELECT status FROM backups WHERE id = $1', [backupId]))[0]!.status).toBe('verified');
}

describe('Redis outage', () => {
  it('stopped mid-run: nothing waits; restarted empty: submits work, the worker resumes, the schedulers come back by themselves', async () => {
    const fleet = await startFleet('redis_stop');
    const { env, services, redis } = fleet;
    const [first, fresh, later, atStart] = [
      await photoVariants(2, 'stop-first'),
      await photoVariants(1, 'stop-fresh'),
      await photoVariants(3, 'stop-later'),
      await photoVariants(1, 'stop-atstart'),
    ];
    const done = await completedBatch(fleet, first);
    expect(await schedulerIds(services)).toEqual(['health-probe', 'reconcile']);

    await redis.stop();
    let running = false;
    try {
      await expectNothingWaitsOnRedis(fleet, done, fresh[0]!.bytes, first[0]!.bytes);
      await expectCliGivesUp(fleet);

      // An API started while Redis is away starts, reads, and refuses submits at once.
      const lateServices = await env.open();
      const lateApi = await env.api(lateServices);
      const read = await call(lateApi.url, fleet.admin, `/v1/batches/${done.id}`);
      expect(read.status).toBe(200);
      expect(read.ms).toBeLessThan(2000);
      const refused = await timedSubmit(lateApi.url, fleet.submitter, atStart);
      expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 503, code: 'queue_unavailable' });
      expect(refused.ms).toBeLessThan(2000);

      await redis.start({ empty: true });
      running = true;

      // The schedulers come back without `lookout reconcile`: the worker process re-creates them.
      expect(await until('the schedulers to come back', () => schedulerIds(services).then((ids) => (ids?.length === 2 ? ids : undefined)), 30_000)).toEqual([
        'health-probe',
        'reconcile',
      ]);

      // Both APIs accept submits again and the worker that rode it out finishes them.
      await until('the API to accept a submit', async () => ((await call(fleet.url, fleet.admin, '/v1/queues')).status === 200 ? true : undefined), 15_000);
      await completedBatch(fleet, later);
      const res = await submit(lateApi.url, fleet.submitter, atStart);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect((await waitForBatch(lateApi.url, fleet.submitter, res.body.id as string, 120_000)).status).toBe('completed');
      expect(fleet.worker.child.exitCode).toBeNull();
      // The refused submits never turned into batches.
      expect((await rowCounts(env)).batches).toBe(3);
    } finally {
      if (!running) await redis.start({ empty: true });
    }
    expect(await fleet.worker.stop()).toBe(0);
  }, 240_000);

  it('lookout all started while Redis is down: alive, serving Postgres reads, not ready; ready and working once Redis starts', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const env = await createTestEnv('redis_all_late', { HEARTBEAT_MS: '500' }, { redisUrl: redis.url });
    cleanups.push(() => env.cleanup());
    const services = await env.open();
    const admin = await env.key(services, 'admin');
    const submitter = await env.key(services, 'submitter');
    await redis.stop();
    let running = false;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    const all = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), 'all'], {
      env: { ...process.env, ...env.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    all.stdout.on('data', (d: Buffer) => (output += d.toString()));
    all.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => all.once('exit', (code) => resolve(code)));
    try {
      await until(
        'lookout all to answer /healthz',
        () =>
          fetch(`${url}/healthz`).then(
            (r) => (r.ok ? true : undefined),
            () => undefined,
          ),
        60_000,
      );
      const ready = await call(url, undefined, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'not_ready', checks: { redis: { ok: false }, postgres: { ok: true }, startup: { ok: false } } });
      const read = await call(url, admin, '/v1/batches');
      expect(read.status).toBe(200);
      expect(read.ms).toBeLessThan(2000);
      const refused = await timedSubmit(url, submitter, await photoVariants(1, 'all-late-refused'));
      expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 503, code: 'queue_unavailable' });

      await redis.start({ empty: true });
      running = true;
      await until(
        'lookout all to be ready',
        () =>
          fetch(`${url}/readyz`).then(
            (r) => (r.ok ? true : undefined),
            () => undefined,
          ),
        60_000,
      );
      const res = await submit(url, submitter, await photoVariants(1, 'all-late-ok'));
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect((await waitForBatch(url, submitter, res.body.id as string, 120_000)).status).toBe('completed');
    } finally {
      if (!running) await redis.start({ empty: true });
      all.kill('SIGTERM');
    }
    expect(await exited, output.slice(-2000)).toBe(0);
  }, 240_000);

  it('paused (SIGSTOP, no answers): nothing waits; resumed: everything carries on', async () => {
    const fleet = await startFleet('redis_pause');
    const { redis } = fleet;
    const [first, fresh, later] = [await photoVariants(2, 'pause-first'), await photoVariants(1, 'pause-fresh'), await photoVariants(3, 'pause-later')];
    const done = await completedBatch(fleet, first);

    redis.pause();
    try {
      await expectNothingWaitsOnRedis(fleet, done, fresh[0]!.bytes, first[0]!.bytes);
      await expectCliGivesUp(fleet);
    } finally {
      redis.resume();
    }
    await until('the API to accept a submit', async () => ((await call(fleet.url, fleet.admin, '/v1/queues')).status === 200 ? true : undefined), 15_000);
    await completedBatch(fleet, later);
    expect(fleet.worker.child.exitCode).toBeNull();
    expect((await rowCounts(fleet.env)).batches).toBe(2);
    expect(await fleet.worker.stop()).toBe(0);
  }, 240_000);
});
