// Fair share (issue 17, review): the batch whose allocation starts a renumbering is capped (priority =
// limit), to be put at its tag when the steps reach that level. With the default chunk (2,000) and 2,000
// jobs waiting the renumbering can end before that batch's jobs are on the queue: its confirmation then
// puts them at their tags, so they do not stay behind every waiting job (and every later batch).
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { allocatePriorities, confirmAdded } from '../../src/producers/fair-share.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let detect: Queue;
beforeAll(async () => {
  env = await createTestEnv('review18_capped');
  services = await env.open();
  detect = services.queues.get('detect')!;
}, 60_000);
afterAll(() => env.cleanup());

it('a batch allocated as a renumbering starts is put at its tag', { timeout: 60_000 }, async () => {
  const prefix = env.config.queuePrefix;
  const opts = { priorityLimit: 6000 }; // default renumberChunk (2,000)
  const a = await allocatePriorities(services.flows, prefix, { lane: 'bulk', fairKey: `A-${randomUUID()}`, n: 5000 }, opts);
  await detect.addBulk(Array.from({ length: 5000 }, (_, i) => ({ name: 'detect-image', data: { i }, opts: { jobId: `a${i}`, priority: a.of(i) } })));
  await confirmAdded(services.flows, prefix, a, [], opts);
  // Workers took A's first 3,000 (removed here for speed): V = 3,000, half the range above base.
  const client = (await detect.client) as unknown as Redis;
  for (let i = 0; i < 3000; i += 500) await client.zrem(detect.keys.prioritized!, ...Array.from({ length: 500 }, (_, k) => `a${i + k}`));
  // Key B submits 10 images: its allocation starts the renumbering, and it is capped meanwhile.
  const b = await allocatePriorities(services.flows, prefix, { lane: 'bulk', fairKey: `B-${randomUUID()}`, n: 10 }, opts);
  // The flow add takes a little while (here: 100 ms); the background driver finishes meanwhile.
  await new Promise((r) => setTimeout(r, 100));
  const ids = Array.from({ length: 10 }, (_, i) => `b${i}`);
  await detect.addBulk(ids.map((id, i) => ({ name: 'detect-image', data: { i }, opts: { jobId: id, priority: b.of(i) } })));
  await confirmAdded(services.flows, prefix, b, ids, opts);
  await new Promise((r) => setTimeout(r, 500));
  const ahead = await client.zcount(detect.keys.prioritized!, '-inf', `(${(await client.zscore(detect.keys.prioritized!, 'b0'))!}`);
  console.log(`jobs ahead of the batch capped during a renumbering: ${ahead}`);
  // Key C submits afterwards: B stays ahead of C's later images.
  const c = await allocatePriorities(services.flows, prefix, { lane: 'bulk', fairKey: `C-${randomUUID()}`, n: 10 }, opts);
  await detect.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 'detect-image', data: { i }, opts: { jobId: `c${i}`, priority: c.of(i) } })));
  await confirmAdded(
    services.flows,
    prefix,
    c,
    Array.from({ length: 10 }, (_, i) => `c${i}`),
    opts,
  );
  const order = (await detect.getPrioritized(0, -1)).map((j) => j.id!);
  console.log(`a later key's last image at ${order.indexOf('c9')}, the capped batch's first at ${order.indexOf('b0')}`);
  // Start-time fair queuing: B's first image starts at V, next to A's next one.
  expect(ahead).toBeLessThanOrEqual(1);
});
