// Scheduling on the detect queue (issue 17): the interactive lane runs ahead
// of a bulk backlog; bulk batches of different keys share the workers; the
// fair-share priorities stay within BullMQ's range (renumbering) and the
// reconciler's re-enqueue keeps the lane. Real Redis, Postgres, worker and
// model; every image distinct (no cache hit), tiny (the scheduling is tested,
// not the model).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { enqueueBatchFlow } from '../../src/producers/batch-flow.js';
import { allocatePriorities, confirmAdded, FIRST_BULK } from '../../src/producers/fair-share.js';
import { detectImageJobId } from '../../src/jobs/detect-image/definition.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';
import { tinyImages } from '../helpers/tiny-images.js';

let env: TestEnv;
let services: Services;
let url: string;

/** Images finished (done or failed) per batch, read at one moment. */
async function finished(ids: string[]): Promise<number[]> {
  const rows = await env.sql<{ batch_id: string; n: number }>(
    `SELECT batch_id, count(*) FILTER (WHERE status IN ('done', 'failed'))::int AS n FROM images WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id`,
    [ids],
  );
  return ids.map((id) => rows.find((r) => r.batch_id === id)?.n ?? 0);
}

beforeAll(async () => {
  env = await createTestEnv('fair_scheduling', { UPLOAD_MAX_FILES: '2000' });
  services = await env.open();
  url = (await env.api(services)).url;
}, 60_000);
afterAll(() => env.cleanup());

async function drain(): Promise<void> {
  await env.closeWorkers();
  const detect = services.queues.get('detect')!;
  await detect.obliterate({ force: true });
  await env.sql(`UPDATE images SET status = 'failed' WHERE status IN ('queued', 'running')`);
}

describe('the interactive lane', () => {
  it('runs a one-image batch of key B within 2 s while key A has over 1,000 images queued', async () => {
    const a = await env.key(services, 'submitter');
    const b = await env.key(services, 'submitter');
    const backlog = await submit(url, a, await tinyImages(1100));
    expect(backlog.status).toBe(202);
    const one = await tinyImages(1);
    await env.worker(services, { concurrency: 2 });
    // The backlog is running: a slot frees every few milliseconds, none of them B's until B submits.
    await new Promise((r) => setTimeout(r, 1000));
    const started = Date.now();
    const small = await submit(url, b, one);
    expect(small.status).toBe(202);
    const done = await waitForBatch(url, b, small.body.id, 10_000);
    const took = Date.now() - started;
    expect(done).toMatchObject({ status: 'completed', lane: 'interactive' });
    expect(took).toBeLessThan(2000);
    const [aDone] = await finished([backlog.body.id]);
    // A's backlog is still there: at least 800 of its 1,100 images wait.
    expect(1100 - aDone!).toBeGreaterThanOrEqual(800);
    const view = (await (await fetch(`${url}/v1/batches/${backlog.body.id}`, { headers: { authorization: `Bearer ${a}` } })).json()) as any;
    expect(view.lane).toBe('bulk');
    console.log(`interactive batch behind ${1100 - aDone!} waiting images: ${took} ms`);
    await drain();
  }, 120_000);
});

describe('fair share across keys', () => {
  it('two keys of 400 images each, B right after A: when either finishes the other is at least 60 % done', async () => {
    const a = await env.key(services, 'submitter');
    const b = await env.key(services, 'submitter');
    const [filesA, filesB] = [await tinyImages(400), await tinyImages(400)];
    const batchA = await submit(url, a, filesA);
    const batchB = await submit(url, b, filesB);
    expect([batchA.status, batchB.status]).toEqual([202, 202]);
    await env.worker(services, { concurrency: 2 });
    const ids = [batchA.body.id as string, batchB.body.id as string];
    const deadline = Date.now() + 90_000;
    let counts = [0, 0];
    while (Date.now() < deadline) {
      counts = await finished(ids);
      if (counts.some((n) => n === 400)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`when the first finished: A ${counts[0]}/400, B ${counts[1]}/400`);
    expect(Math.max(...counts)).toBe(400);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(240);
    await drain();
  }, 120_000);

  it('three keys: over the middle of the run each key gets 1/3 of the images, within 15 points', async () => {
    const keys = [await env.key(services, 'submitter'), await env.key(services, 'submitter'), await env.key(services, 'submitter')];
    const ids: string[] = [];
    for (const k of keys) {
      const res = await submit(url, k, await tinyImages(200));
      expect(res.status).toBe(202);
      ids.push(res.body.id as string);
    }
    await env.worker(services, { concurrency: 2 });
    for (const [i, id] of ids.entries()) await waitForBatch(url, keys[i]!, id, 90_000);
    const order = await env.sql<{ batch_id: string }>(`SELECT batch_id FROM images WHERE batch_id = ANY($1::uuid[]) ORDER BY finished_at, id`, [ids]);
    // The middle of the run: the second and third fifths of the 600 images, when all three keys have work waiting.
    const middle = order.slice(120, 360);
    const shares = ids.map((id) => middle.filter((r) => r.batch_id === id).length / middle.length);
    console.log(`shares over the middle of the run: ${shares.map((s) => s.toFixed(2)).join(' ')}`);
    for (const s of shares) expect(Math.abs(s - 1 / 3)).toBeLessThanOrEqual(0.15);
    await env.closeWorkers();
  }, 120_000);
});

describe('the priority range', () => {
  it('renumbers the waiting jobs when the tags pass the range, keeping their order and the FIFO within a priority', async () => {
    const prefix = env.config.queuePrefix;
    const detect = services.queues.get('detect')!;
    await detect.obliterate({ force: true });
    const limit = 40;
    const opts = { priorityLimit: limit };
    // Two keys, 10 images each, as prioritized jobs (no worker runs).
    const add = async (key: string, n: number, tag: string) => {
      const p = await allocatePriorities(services.flows, prefix, { lane: 'bulk', fairKey: key, n }, opts);
      for (let i = 0; i < n; i++) await detect.add('detect-image', { tag: `${tag}${i}` }, { priority: p.of(i), jobId: `${tag}${i}` });
      await confirmAdded(
        services.flows,
        prefix,
        p,
        Array.from({ length: n }, (_, i) => `${tag}${i}`),
        opts,
      );
      return p;
    };
    let renumbered = 0;
    for (let round = 0; round < 6; round++) {
      // Submit more, then take the oldest 16 off the queue, as workers would.
      const first = await add('x', 10, `x${round}-`);
      if (first.renumbered) renumbered++;
      await add('y', 10, `y${round}-`);
      expect(first.of(9)).toBeLessThanOrEqual(limit);
      const waiting = await detect.getPrioritized(0, -1);
      const ordered = waiting.map((j) => j.id!);
      for (const id of ordered.slice(0, 16)) await (await detect.getJob(id))!.remove();
    }
    expect(renumbered).toBeGreaterThan(0);
    const jobs = await detect.getPrioritized(0, -1);
    const priorities = jobs.map((j) => j.priority);
    expect(Math.max(...priorities)).toBeLessThanOrEqual(limit);
    expect(Math.min(...priorities)).toBeGreaterThanOrEqual(FIRST_BULK);
    // The job hashes agree with the set, and the order interleaves the keys.
    for (const j of jobs) expect((await detect.getJob(j.id!))!.priority).toBe(j.priority);
    const ids = jobs.map((j) => j.id!);
    const xs = ids.filter((id) => id.startsWith('x'));
    expect(xs).toEqual([...xs].sort((p, q) => p.localeCompare(q, 'en', { numeric: true })));
    const firstTen = ids.slice(0, 10);
    expect(firstTen.filter((id) => id.startsWith('x')).length).toBeGreaterThanOrEqual(4);
    expect(firstTen.filter((id) => id.startsWith('y')).length).toBeGreaterThanOrEqual(4);
    await detect.obliterate({ force: true });
  });
});

describe('the virtual time V', () => {
  /** A bulk batch of `n` images of `key` as the submit adds it (allocation, then the flow); no worker runs. */
  async function addBatch(key: string, n: number) {
    const prefix = env.config.queuePrefix;
    const priorities = await allocatePriorities(services.flows, prefix, { lane: 'bulk', fairKey: key, n });
    const images = Array.from({ length: n }, () => ({ imageId: randomUUID(), blobKey: '0'.repeat(64), sourceUrl: null }));
    await enqueueBatchFlow(services.flows, prefix, { batchId: randomUUID(), model: 'none', images, priorities });
    return { priorities, images };
  }

  it('two bulk batches submitted at the same moment on an idle queue interleave', async () => {
    const detect = services.queues.get('detect')!;
    await detect.obliterate({ force: true });
    const [a, b] = await Promise.all([addBatch(`same-a-${randomUUID()}`, 400), addBatch(`same-b-${randomUUID()}`, 400)]);
    for (let i = 0; i < 100; i++) {
      const [pa, pb] = await Promise.all([detect.getJob(detectImageJobId(a.images[i]!.imageId)), detect.getJob(detectImageJobId(b.images[i]!.imageId))]);
      expect(Math.abs(pa!.priority - pb!.priority)).toBeLessThanOrEqual(1);
    }
    await detect.obliterate({ force: true });
  }, 60_000);

  it('a retried job back with its old, low priority does not let a new key start before the current front', async () => {
    const detect = services.queues.get('detect')!;
    await detect.obliterate({ force: true });
    const first = await addBatch(`retry-a-${randomUUID()}`, 50);
    // Workers took the first 20; the first one failed and comes back with its old priority (one attempt made).
    for (const img of first.images.slice(0, 20)) await (await detect.getJob(detectImageJobId(img.imageId)))!.remove();
    const front = first.priorities.of(20);
    const retried = await detect.add('detect-image', { retried: true }, { priority: first.priorities.of(0), jobId: `retried-${randomUUID()}` });
    const client = (await detect.client) as unknown as Redis;
    await client.hset(`${detect.qualifiedName}:${retried.id!}`, 'atm', 1);
    const late = await allocatePriorities(services.flows, env.config.queuePrefix, { lane: 'bulk', fairKey: `retry-n-${randomUUID()}`, n: 10 });
    await confirmAdded(services.flows, env.config.queuePrefix, late, []);
    expect(late.of(0)).toBeGreaterThanOrEqual(front);
    await detect.obliterate({ force: true });
  }, 60_000);
});
