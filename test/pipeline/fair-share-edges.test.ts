// The fair share's edges (issue 17, after review): jobs BullMQ puts back on
// its plain wait list (a retry by hand, through our CLI/API or Bull Board, a
// stalled job) go back to their priorities instead of running before every
// prioritized job; renumbering reaches jobs outside the prioritized set and
// waits while an allocation is in flight; a key far ahead does not renumber
// on every submit; a refused submit gives its key's tags back; the reconciler
// gives a key with several lost batches one share; the interactive lane is
// charged to the key. Real Redis, Postgres and BullMQ; no model runs (the
// jobs are taken by hand or not at all).
import pino from 'pino';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Worker, type Job, type Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { controlQueue } from '../../src/board/queue-control.js';
import { boardQueueAdapter } from '../../src/board/bull-board.js';
import {
  allocatePriorities,
  confirmAdded,
  driveRenumbering,
  FIRST_BULK,
  INTERACTIVE_PRIORITY,
  PRIORITY_LIMIT,
  releasePriorities,
  type Priorities,
} from '../../src/producers/fair-share.js';
import { reconcile } from '../../src/producers/reconcile.js';
import { detectImageJobId } from '../../src/jobs/detect-image/definition.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/start-workers.js';
import type { HandlerDeps } from '../../src/jobs/registry.js';
import { until } from '../helpers/receivers.js';
import { createTestEnv, REDIS_URL, submit, type TestEnv } from '../helpers/test-env.js';
import { tinyImages } from '../helpers/tiny-images.js';

let env: TestEnv;
let services: Services;
let detect: Queue;
let url: string;

beforeAll(async () => {
  env = await createTestEnv('fair_share_edges');
  services = await env.open();
  detect = services.queues.get('detect')!;
  url = (await env.api(services)).url;
}, 60_000);
afterAll(() => env.cleanup());
beforeEach(async () => {
  await detect.resume();
  await detect.obliterate({ force: true });
});

/** A worker that takes jobs by hand (no processor, no lock renewal). */
async function handWorker(lockDuration = 30_000): Promise<Worker> {
  const w = new Worker('detect', undefined, { connection: services.workerRedis, prefix: env.config.queuePrefix, autorun: false, lockDuration });
  await w.waitUntilReady();
  return w;
}

/** The job ids `<tag>0` .. `<tag>{n-1}`. */
const ids = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

/** `n` detect jobs taken as a worker takes them, and completed. */
async function takeAndComplete(n: number): Promise<void> {
  const w = await handWorker();
  for (let i = 0; i < n; i++) {
    const token = randomUUID();
    await ((await w.getNextJob(token)) as Job).moveToCompleted('ok', token, false);
  }
  await w.close();
}

/** The ids of the detect jobs in the order workers would take them (plain wait list first, from its taking end; then by priority). */
async function takingOrder(): Promise<string[]> {
  const wait = (await detect.getWaiting(0, -1)).map((j) => j.id!);
  const prioritized = (await detect.getPrioritized(0, -1)).map((j) => j.id!);
  return [...wait, ...prioritized];
}

/** Job `id` (priority `priority`) taken by hand and failed, with no attempts left. */
async function failedJob(id: string, priority: number): Promise<void> {
  await detect.add('detect-image', { id }, { jobId: id, priority, attempts: 1 });
  const w = await handWorker();
  const token = randomUUID();
  const job = (await w.getNextJob(token)) as Job;
  expect(job.id).toBe(id);
  await job.moveToFailed(new Error('failed on purpose'), token);
  await w.close();
  expect(await detect.getJobState(id)).toBe('failed');
}

describe('jobs BullMQ puts on its plain wait list go back to their priorities', () => {
  it.each([
    [
      'lookout queues retry-failed (controlQueue)',
      async () => void (await controlQueue({ queues: services.queues, pool: services.pool }, 'detect', 'retry-failed', 'test')),
    ],
    ['a Bull Board retry', async () => (await boardQueueAdapter(detect).getJob('x-failed'))!.retry('failed')],
  ])('%s: the retried bulk job keeps its place, behind interactive and earlier bulk jobs', async (_what, retry) => {
    await failedJob('x-failed', 40);
    await detect.add('detect-image', { i: 1 }, { jobId: 'i-interactive', priority: INTERACTIVE_PRIORITY });
    await detect.add('detect-image', { b: 1 }, { jobId: 'b-earlier', priority: 20 });
    await detect.add('detect-image', { b: 2 }, { jobId: 'b-later', priority: 60 });
    await retry();
    expect(await detect.getJobState('x-failed')).toBe('prioritized');
    expect((await detect.getJob('x-failed'))!.priority).toBe(40);
    expect(await takingOrder()).toEqual(['i-interactive', 'b-earlier', 'x-failed', 'b-later']);
    // And a worker takes them in that order.
    const w = await handWorker();
    const taken: string[] = [];
    for (let i = 0; i < 4; i++) taken.push(((await w.getNextJob(randomUUID())) as Job).id!);
    expect(taken).toEqual(['i-interactive', 'b-earlier', 'x-failed', 'b-later']);
    await w.close();
  });

  it('retry-failed while the queue is paused: the jobs wait at their priorities, none on the paused list', async () => {
    await failedJob('p-failed', 30);
    await detect.pause();
    await controlQueue({ queues: services.queues, pool: services.pool }, 'detect', 'retry-failed', 'test');
    const client = (await detect.client) as unknown as Redis;
    expect(await client.llen(detect.keys.paused!)).toBe(0);
    expect(await client.llen(detect.keys.wait!)).toBe(0);
    expect(await client.zscore(detect.keys.prioritized!, 'p-failed')).not.toBeNull();
    await detect.resume();
  });

  it('a stalled job goes back to its priority, not ahead of the interactive lane', async () => {
    await detect.add('detect-image', { s: 1 }, { jobId: 's-stalled', priority: 50 });
    // Taken by a worker that then stops renewing its lock (as a killed process would).
    const dying = await handWorker(300);
    expect(((await dying.getNextJob(randomUUID())) as Job).id).toBe('s-stalled');
    await detect.add('detect-image', { i: 1 }, { jobId: 'i-waiting', priority: INTERACTIVE_PRIORITY });
    // The queue is paused so no worker takes them; the stalled checker of a running worker still runs.
    await detect.pause();
    const stalled: string[] = [];
    const running: RunningWorkers = await startWorkers({
      queues: ['detect'],
      concurrency: 1,
      connection: services.workerRedis,
      prefix: env.config.queuePrefix,
      lockMs: 300,
      deps: {} as HandlerDeps, // not used: nothing runs
      logger: pino({ level: 'silent' }),
      processors: new Map([['detect', () => Promise.resolve({})]]),
    });
    running.workers[0]!.on('stalled', (id) => stalled.push(id));
    try {
      await until('the job stalled', () => Promise.resolve(stalled.includes('s-stalled') || undefined), 10_000);
      await until('the job back at its priority', async () => ((await detect.getJobState('s-stalled')) === 'prioritized' ? true : undefined), 5000);
      expect(await takingOrder()).toEqual(['i-waiting', 's-stalled']);
    } finally {
      await running.close(1000);
      await dying.close(true);
      await detect.resume();
    }
  });

  it("the reconciler's sweep puts back any job with a priority found on the plain wait list", async () => {
    await detect.add('detect-image', { i: 1 }, { jobId: 'i-a', priority: INTERACTIVE_PRIORITY });
    await detect.add('detect-image', { b: 1 }, { jobId: 'b-a', priority: 70 });
    await detect.add('detect-image', { plain: 1 }, { jobId: 'plain' }); // no priority: stays where it is
    // As BullMQ's own scripts do for a stalled job: off the prioritized set, onto the wait list.
    const client = (await detect.client) as unknown as Redis;
    await client.zrem(detect.keys.prioritized!, 'b-a');
    await client.rpush(detect.keys.wait!, 'b-a');
    expect((await takingOrder())[0]).toBe('b-a');
    await reconcile({ ...services, logger: pino({ level: 'silent' }) });
    expect(await takingOrder()).toEqual(['plain', 'i-a', 'b-a']);
    expect((await detect.getJob('b-a'))!.priority).toBe(70);
  });
});

describe('a retry by hand on the detect queue', () => {
  it("puts each key's retried images at the front of its fair line, one share per key: key A's 100 failed images do not run ahead of key B", async () => {
    const a = await env.key(services, 'submitter');
    const b = await env.key(services, 'submitter');
    const batchA = await submit(url, a, await tinyImages(100));
    expect(batchA.status).toBe(202);
    // All of A's images fail (say, the blob store was away), no attempts left.
    const w = await handWorker();
    for (let i = 0; i < 100; i++) {
      const t = randomUUID();
      const job = (await w.getNextJob(t)) as Job;
      await job.updateData(job.data); // keep the payload; the job is A's
      job.opts.attempts = 1;
      await job.moveToFailed(new Error('blob store away'), t);
    }
    await w.close();
    const batchB = await submit(url, b, await tinyImages(100));
    expect(batchB.status).toBe(202);
    await controlQueue(
      { queues: services.queues, pool: services.pool, flows: services.flows, prefix: env.config.queuePrefix },
      'detect',
      'retry-failed',
      'test',
    );
    const ofB = new Set((await env.sql<{ id: string }>('SELECT id FROM images WHERE batch_id = $1', [batchB.body.id])).map((r) => detectImageJobId(r.id)));
    const order = await takingOrder();
    expect(order).toHaveLength(200);
    const bInFirst100 = order.slice(0, 100).filter((id) => ofB.has(id)).length;
    console.log(`after retry-failed: key B has ${bInFirst100} of the first 100 places`);
    // One share each (with their old places, A's 100 would all run first: B 0).
    expect(bInFirst100).toBeGreaterThanOrEqual(45);
    expect(bInFirst100).toBeLessThanOrEqual(55);
    await env.sql(`UPDATE images SET status = 'failed' WHERE status IN ('queued', 'running')`);
    await env.sql(`UPDATE batches SET status = 'failed' WHERE status IN ('queued', 'running')`);
  }, 60_000);
});

describe('renumbering', () => {
  const prefix = () => env.config.queuePrefix;
  // Each case starts from an empty fair share (base 0, V 0).
  beforeEach(async () => {
    const client = (await detect.client) as unknown as Redis;
    await client.del(`${prefix()}:fair-share:detect`, `${prefix()}:fair-share:detect:inflight`);
  });

  it('lowers the stored priority of failed, waiting and delayed jobs too, so a later retry comes back near the front', async () => {
    const limit = 40;
    const opts = { priorityLimit: limit };
    const key = `r-${randomUUID()}`;
    const p = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: key, n: 30 }, opts);
    for (let i = 0; i < 30; i++) await detect.add('detect-image', { i }, { jobId: `r${i}`, priority: p.of(i) });
    await confirmAdded(services.flows, prefix(), p, ids('r', 30), opts);
    // The first 25 ran; r25 failed (its priority is p.of(25)).
    const w = await handWorker();
    for (let i = 0; i < 25; i++) {
      const t = randomUUID();
      await ((await w.getNextJob(t)) as Job).moveToCompleted('ok', t, false);
    }
    const token = randomUUID();
    const failing = (await w.getNextJob(token)) as Job;
    expect(failing.id).toBe('r25');
    await failing.moveToFailed(new Error('x'), token);
    await w.close();
    const before = (await detect.getJob('r25'))!.priority;
    // The next batch passes the range: base moves up to V (the lowest waiting, r26).
    const next = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `other-${randomUUID()}`, n: 20 }, opts);
    await confirmAdded(services.flows, prefix(), next, [], opts);
    expect(next.renumbered).toBe(true);
    const after = (await detect.getJob('r25'))!.priority;
    expect(after).toBeLessThan(before);
    expect(after).toBe(FIRST_BULK); // it was below V: at the front
    expect((await detect.getJob('r26'))!.priority).toBe(FIRST_BULK);
    await controlQueue({ queues: services.queues, pool: services.pool }, 'detect', 'retry-failed', 'test');
    const order = await takingOrder();
    expect(order.indexOf('r25')).toBeLessThanOrEqual(1);
  });

  it("waits while another allocation is in flight: a batch allocated before it and added after it does not fall behind its key's later batch", async () => {
    const limit = 40;
    const opts = { priorityLimit: limit };
    const key = `a-${randomUUID()}`;
    const add = async (p: Priorities, tag: string, n: number) => {
      for (let i = 0; i < n; i++) await detect.add('detect-image', { i }, { jobId: `${tag}${i}`, priority: p.of(i) });
      await confirmAdded(services.flows, prefix(), p, ids(tag, n), opts);
    };
    const a = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: key, n: 30 }, opts);
    await add(a, 'a', 30);
    // The key's second batch is allocated; its jobs are still being added (in flight).
    const b = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: key, n: 5 }, opts);
    await takeAndComplete(25);
    // Another key's batch would renumber now (V is 25 above base): not while B is in flight.
    const c = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `c-${randomUUID()}`, n: 5 }, opts);
    expect(c.renumbered).toBe(false);
    await releasePriorities(services.flows, prefix(), c);
    // The key's third batch, then B's jobs arrive.
    const e = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: key, n: 5 }, opts);
    await add(e, 'e', 5);
    await add(b, 'b', 5);
    const order = await takingOrder();
    const lastB = Math.max(...[0, 1, 2, 3, 4].map((i) => order.indexOf(`b${i}`)));
    const firstE = Math.min(...[0, 1, 2, 3, 4].map((i) => order.indexOf(`e${i}`)));
    expect(lastB).toBeLessThan(firstE);
    // Nothing in flight: the next allocation renumbers, and the order still holds.
    const f = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `f-${randomUUID()}`, n: 5 }, opts);
    await confirmAdded(services.flows, prefix(), f, [], opts);
    expect(f.renumbered).toBe(true);
    const after = await takingOrder();
    expect(Math.max(...[0, 1, 2, 3, 4].map((i) => after.indexOf(`b${i}`)))).toBeLessThan(Math.min(...[0, 1, 2, 3, 4].map((i) => after.indexOf(`e${i}`))));
    expect(Math.max(...(await detect.getPrioritized(0, -1)).map((j) => j.priority))).toBeLessThanOrEqual(limit);
  });

  it('a key with more than the range waiting does not renumber on each of its submits', async () => {
    const limit = 40;
    const opts = { priorityLimit: limit };
    const far = `far-${randomUUID()}`;
    let renumbered = 0;
    let n = 0;
    for (let round = 0; round < 12; round++) {
      const p = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: far, n: 10 }, opts);
      for (let i = 0; i < 10; i++) await detect.add('detect-image', { i }, { jobId: `f${n++}`, priority: p.of(i) });
      await confirmAdded(
        services.flows,
        prefix(),
        p,
        Array.from({ length: 10 }, (_, i) => `f${n - 10 + i}`),
        opts,
      );
      if (p.renumbered) renumbered++;
      // Workers take 2 between its submits: V hardly moves.
      await takeAndComplete(2);
    }
    // 120 images into a range of 40 while V moves 24: two renumberings (one that makes a batch fit, one
    // that gains a quarter of the range); renumbering on each submit past the range would be 10.
    expect(renumbered).toBeLessThanOrEqual(2);
    const ps = (await detect.getPrioritized(0, -1)).map((j) => j.priority);
    expect(Math.max(...ps)).toBeLessThanOrEqual(limit);
    // The key's own order holds (FIFO within the shared last priority).
    const ids = (await detect.getPrioritized(0, -1)).map((j) => Number(j.id!.slice(1)));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
  });

  it("spreads a far-ahead key's capped tail out again: a new key is not put behind it", async () => {
    const limit = 40;
    const opts = { priorityLimit: limit };
    // Key A queues three times the range: its tail shares the capped priority, with its tags kept.
    const a = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `A-${randomUUID()}`, n: 120 }, opts);
    for (let i = 0; i < 120; i++) await detect.add('detect-image', { i }, { jobId: `a${i}`, priority: a.of(i) });
    await confirmAdded(services.flows, prefix(), a, ids('a', 120), opts);
    await takeAndComplete(40);
    const b = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `B-${randomUUID()}`, n: 5 }, opts);
    for (let i = 0; i < 5; i++) await detect.add('detect-image', { i }, { jobId: `b${i}`, priority: b.of(i) });
    await confirmAdded(services.flows, prefix(), b, ids('b', 5), opts);
    await driveRenumbering(services.flows, prefix(), opts);
    const order = await takingOrder();
    console.log(`images ahead of a new key's first, behind a key with 80 waiting in a range of 40: ${order.indexOf('b0')}`);
    expect(order.indexOf('b0')).toBeLessThanOrEqual(2);
    // A's own order holds.
    const as = order.filter((id) => id.startsWith('a')).map((id) => Number(id.slice(1)));
    expect(as).toEqual([...as].sort((x, y) => x - y));
  });

  it('runs in steps: a batch allocated while one is under way waits at the capped level and is put at its tag when the step reaches it', async () => {
    const limit = 40;
    const opts = { priorityLimit: limit, renumberChunk: 3 };
    const a = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `A-${randomUUID()}`, n: 36 }, opts);
    for (let i = 0; i < 36; i++) await detect.add('detect-image', { i }, { jobId: `a${i}`, priority: a.of(i) });
    await confirmAdded(services.flows, prefix(), a, ids('a', 36), opts);
    await takeAndComplete(21);
    // B's allocation starts a renumbering (V is 21 above base, half the range); it runs 3 entries a step.
    const b = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `B-${randomUUID()}`, n: 6 }, opts);
    expect(b.renumbered).toBe(true);
    // Under way (the next step waits at the capped level while B is in flight): B is capped, after everything.
    expect(b.of(0)).toBe(limit);
    for (let i = 0; i < 6; i++) await detect.add('detect-image', { i }, { jobId: `b${i}`, priority: b.of(i) });
    await confirmAdded(services.flows, prefix(), b, ids('b', 6), opts);
    await driveRenumbering(services.flows, prefix(), opts);
    const client = (await detect.client) as unknown as Redis;
    expect(await client.hget(`${prefix()}:fair-share:detect`, 'rn_base')).toBeNull();
    // Every waiting job in the order of its tag: A's 21..35 and B's 21..26 interleave.
    const order = await takingOrder();
    const tags = order.map((id) => (id.startsWith('a') ? Number(id.slice(1)) : 21 + Number(id.slice(1))));
    expect(tags).toEqual([...tags].sort((x, y) => x - y));
    expect(order.indexOf('b0')).toBeLessThanOrEqual(1);
    expect(Math.max(...(await detect.getPrioritized(0, -1)).map((j) => j.priority))).toBeLessThanOrEqual(limit);
  });

  it('with 100,000 jobs waiting, a renumbering never blocks Redis for long: no script call takes more than a few tens of ms', async () => {
    const client = (await detect.client) as unknown as Redis;
    const q = `${prefix()}:detect`;
    const N = 100_000;
    const half = Math.floor(PRIORITY_LIMIT / 2);
    // Stand-ins: a prioritized entry and a job hash with its priority (all the renumbering reads), tags from base 0.
    for (let from = 0; from < N; from += 10_000) {
      const p = client.pipeline();
      for (let i = from; i < Math.min(N, from + 10_000); i++) {
        const prio = 2 + half + Math.floor(i / 2);
        p.zadd(`${q}:prioritized`, prio * 2 ** 32 + i, `s${i}`);
        p.hset(`${q}:s${i}`, 'priority', prio, 'atm', 0);
      }
      await p.exec();
    }
    const pinger = new Redis(REDIS_URL);
    let worst = 0;
    let stop = false;
    const pinging = (async () => {
      while (!stop) {
        const t = performance.now();
        await pinger.ping();
        worst = Math.max(worst, performance.now() - t);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const t0 = performance.now();
      const p = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: 'k', n: 10 });
      const allocationMs = performance.now() - t0;
      await confirmAdded(services.flows, prefix(), p, []);
      expect(p.renumbered).toBe(true);
      await driveRenumbering(services.flows, prefix());
      const tookMs = performance.now() - t0;
      stop = true;
      await pinging;
      console.log(
        `renumbering ${N} waiting jobs: allocation ${allocationMs.toFixed(0)} ms, whole renumbering ${tookMs.toFixed(0)} ms, worst PING meanwhile ${worst.toFixed(0)} ms`,
      );
      expect(allocationMs).toBeLessThan(500);
      expect(worst).toBeLessThan(300);
      // Done: base moved to V (the lowest stand-in's tag), every entry lowered by the same amount, in order.
      expect(await client.hget(`${prefix()}:fair-share:detect`, 'rn_base')).toBeNull();
      expect(Number(await client.hget(`${prefix()}:fair-share:detect`, 'base'))).toBe(half);
      const [lowest] = await client.zrange(`${q}:prioritized`, 0, 0);
      expect(lowest).toBe('s0');
      expect(Number(await client.hget(`${q}:s${N - 1}`, 'priority'))).toBe(2 + Math.floor((N - 1) / 2));
    } finally {
      stop = true;
      await pinging;
      pinger.disconnect();
      for (let from = 0; from < N; from += 10_000)
        await client.del(...Array.from({ length: Math.min(N, from + 10_000) - from }, (_, k) => `${q}:s${from + k}`));
    }
  }, 120_000);
});

describe('a refused submit', () => {
  it("gives its key's tags back: the key's next batch starts where the refused one did", async () => {
    const key = `refused-${randomUUID()}`;
    const first = await allocatePriorities(services.flows, env.config.queuePrefix, { lane: 'bulk', fairKey: key, n: 50 });
    await confirmAdded(services.flows, env.config.queuePrefix, first, []);
    const refused = await allocatePriorities(services.flows, env.config.queuePrefix, { lane: 'bulk', fairKey: key, n: 100 });
    await releasePriorities(services.flows, env.config.queuePrefix, refused);
    const next = await allocatePriorities(services.flows, env.config.queuePrefix, { lane: 'bulk', fairKey: key, n: 10 });
    await confirmAdded(services.flows, env.config.queuePrefix, next, []);
    expect(next.of(0)).toBe(refused.of(0));
    expect(next.of(0)).toBe(first.of(49) + 1);
  });
});

describe('the reconciler', () => {
  it('gives a key with two lost batches one share at the front, not two', async () => {
    const k = await env.key(services, 'submitter');
    const l = await env.key(services, 'submitter');
    // Bulk batches (more than INTERACTIVE_MAX_IMAGES); no worker runs; then their jobs are lost.
    const k1 = await submit(url, k, await tinyImages(12));
    const k2 = await submit(url, k, await tinyImages(12));
    const l1 = await submit(url, l, await tinyImages(12));
    expect([k1.status, k2.status, l1.status]).toEqual([202, 202, 202]);
    await detect.obliterate({ force: true });
    await services.queues.get('batches')!.obliterate({ force: true });
    const result = await reconcile({ ...services, logger: pino({ level: 'silent' }) });
    expect(result.requeuedImages).toBe(36);
    const imagesOf = async (batchId: string) =>
      new Set((await env.sql<{ id: string }>('SELECT id FROM images WHERE batch_id = $1', [batchId])).map((r) => detectImageJobId(r.id)));
    const [ofL] = [await imagesOf(l1.body.id)];
    const first24 = (await takingOrder()).slice(0, 24);
    // One share each: L has half of the first 24 (with a share per lost batch, K would have 16).
    expect(first24.filter((id) => ofL.has(id)).length).toBeGreaterThanOrEqual(11);
  }, 60_000);
});

describe('the interactive lane is charged to the key', () => {
  it('a key holds at most INTERACTIVE_MAX_IMAGES images in the lane; its next small batch is bulk; another key still gets the lane', async () => {
    const a = await env.key(services, 'submitter');
    const b = await env.key(services, 'submitter');
    const lanes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await submit(url, a, await tinyImages(4)); // default INTERACTIVE_MAX_IMAGES 8
      expect(res.status).toBe(202);
      lanes.push(((await (await fetch(`${url}/v1/batches/${res.body.id}`, { headers: { authorization: `Bearer ${a}` } })).json()) as any).lane);
    }
    expect(lanes).toEqual(['interactive', 'interactive', 'bulk']);
    const other = await submit(url, b, await tinyImages(4));
    const view = (await (await fetch(`${url}/v1/batches/${other.body.id}`, { headers: { authorization: `Bearer ${b}` } })).json()) as any;
    expect(view.lane).toBe('interactive');
    // Concurrent small submits of one key: still at most 8 images in the lane.
    const c = await env.key(services, 'submitter');
    const many = await Promise.all(Array.from({ length: 5 }, async () => submit(url, c, await tinyImages(3))));
    const cLanes = await Promise.all(
      many.map(async (r) => ((await (await fetch(`${url}/v1/batches/${r.body.id}`, { headers: { authorization: `Bearer ${c}` } })).json()) as any).lane),
    );
    expect(cLanes.filter((x) => x === 'interactive').length).toBe(2);
    await env.sql(`UPDATE images SET status = 'failed' WHERE status IN ('queued', 'running')`);
    await env.sql(`UPDATE batches SET status = 'failed' WHERE status IN ('queued', 'running')`);
  }, 60_000);
});
