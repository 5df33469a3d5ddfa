// Fair share (issue 17, review): a renumbering under way (small steps, limit 40) while another key
// submits, the reconciler's requeue allocation and a retry by hand run. After it ends, every waiting job
// is in the order of its tag.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Worker, type Job, type Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { allocatePriorities, confirmAdded, driveRenumbering, FIRST_BULK, type Priorities } from '../../src/producers/fair-share.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let detect: Queue;
const prefix = () => env.config.queuePrefix;

beforeAll(async () => {
  env = await createTestEnv('review18_renumber');
  services = await env.open();
  detect = services.queues.get('detect')!;
}, 60_000);
afterAll(() => env.cleanup());
beforeEach(async () => {
  await detect.obliterate({ force: true });
  const client = (await detect.client) as unknown as Redis;
  await client.del(`${prefix()}:fair-share:detect`, `${prefix()}:fair-share:detect:inflight`);
});

async function handWorker(): Promise<Worker> {
  const w = new Worker('detect', undefined, { connection: services.workerRedis, prefix: prefix(), autorun: false, lockDuration: 30_000 });
  await w.waitUntilReady();
  return w;
}

const tagOfJob = new Map<string, number>();
async function add(p: Priorities, tag: string, n: number, opts: object, attempts = 1) {
  for (let i = 0; i < n; i++) {
    await detect.add('detect-image', { i }, { jobId: `${tag}${i}`, priority: p.of(i), attempts });
    tagOfJob.set(`${tag}${i}`, p.allocation!.tagStart + i);
  }
  await confirmAdded(
    services.flows,
    prefix(),
    p,
    Array.from({ length: n }, (_, i) => `${tag}${i}`),
    opts,
  );
}

async function order(): Promise<string[]> {
  const wait = (await detect.getWaiting(0, -1)).map((j) => j.id!);
  const prioritized = (await detect.getPrioritized(0, -1)).map((j) => j.id!);
  return [...wait, ...prioritized];
}

describe.each([1, 2, 5])('renumbering under way, chunk %i', (chunk) => {
  it('submits, a requeue and an automatic retry meanwhile: the order of tags holds afterwards', async () => {
    const limit = 40;
    const opts = { priorityLimit: limit, renumberChunk: chunk };
    const A = `A-${randomUUID()}`;
    const a = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: A, n: 36 }, opts);
    await add(a, 'a', 36, opts, 3);
    const w = await handWorker();
    for (let i = 0; i < 21; i++) {
      const t = randomUUID();
      await ((await w.getNextJob(t)) as Job).moveToCompleted('ok', t, false);
    }
    // B starts a renumbering and stays in flight.
    const b = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `B-${randomUUID()}`, n: 6 }, opts);
    expect(b.renumbered).toBe(true);
    // Meanwhile: a worker takes the next job and it fails with attempts left (automatic retry, no backoff).
    const t = randomUUID();
    const j = (await w.getNextJob(t)) as Job;
    await j.moveToFailed(new Error('transient'), t);
    // C submits; the reconciler puts back 2 of A's images (requeue).
    const c = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `C-${randomUUID()}`, n: 4 }, opts);
    const r = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: A, n: 2, requeue: true }, opts);
    await add(c, 'c', 4, opts);
    await add(r, 'r', 2, opts);
    await add(b, 'b', 6, opts);
    await driveRenumbering(services.flows, prefix(), opts);
    const client = (await detect.client) as unknown as Redis;
    const fair = await client.hgetall(`${prefix()}:fair-share:detect`);
    expect(fair.rn_base).toBeUndefined();
    // A second renumbering after this one, to see the capped levels spread again.
    const d = await allocatePriorities(services.flows, prefix(), { lane: 'bulk', fairKey: `D-${randomUUID()}`, n: 3 }, opts);
    await add(d, 'd', 3, opts);
    await driveRenumbering(services.flows, prefix(), opts);
    const ord = await order();
    const tags = ord.map((id) => tagOfJob.get(id)!);
    const prios = await Promise.all(ord.map(async (id) => (await detect.getJob(id))!.priority));
    await w.close();
    expect(Math.min(...prios)).toBeGreaterThanOrEqual(FIRST_BULK);
    expect(Math.max(...prios)).toBeLessThanOrEqual(limit);
    expect(tags).toEqual([...tags].sort((x, y) => x - y));
  });
});
