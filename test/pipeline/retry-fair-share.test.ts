// A retry by hand of failed images (POST /v1/images/retry) and the fair share
// (issue 19): the retried image goes to the front of its key's fair line (a
// requeue allocation, as the reconciler and Bull Board's retries get), not
// behind the key's own waiting batch nor behind every other key's work; an
// interactive batch's image gets the interactive priority; the allocation is
// confirmed (nothing left in flight); the batch is running again until the
// image has run, then finishes again. Real Redis, Postgres, BullMQ and model.
import { type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectImageJobId } from '../../src/jobs/detect-image/definition.js';
import { FIRST_BULK, INTERACTIVE_PRIORITY } from '../../src/producers/fair-share.js';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';
import { tinyImages } from '../helpers/tiny-images.js';

let env: TestEnv;
let services: Services;
let detect: Queue;
let url: string;
let keyA: string;
let keyB: string;
let operator: string;
let cut: Buffer;

beforeAll(async () => {
  env = await createTestEnv('retry_fair_share');
  services = await env.open();
  detect = services.queues.get('detect')!;
  url = (await env.api(services)).url;
  keyA = await env.key(services, 'submitter');
  keyB = await env.key(services, 'submitter');
  operator = await env.key(services, 'operator');
  const rocket = await readPhoto('rocket.jpg');
  cut = rocket.subarray(0, Math.floor(rocket.length / 2));
}, 60_000);
afterAll(() => env.cleanup());

/** The ids of the detect jobs in the order workers would take them (plain wait list first; then by priority). */
async function takingOrder(): Promise<string[]> {
  const wait = (await detect.getWaiting(0, -1)).map((j) => j.id!);
  const prioritized = (await detect.getPrioritized(0, -1)).map((j) => j.id!);
  return [...wait, ...prioritized];
}

/** A finished batch of `key` whose last image (a cut-off JPEG) failed: its id and that image's. */
async function batchWithAFailure(key: string, good: number): Promise<{ batchId: string; failedId: string }> {
  await env.worker(services);
  const { body } = await submit(url, key, [...(await tinyImages(good, 'ok')), { name: 'cut.jpg', bytes: cut }]);
  expect((await waitForBatch(url, key, body.id)).status).toBe('completed_with_errors');
  await env.closeWorkers();
  return { batchId: body.id, failedId: body.images[good].id };
}

async function retry(ids: string[]): Promise<Record<string, any>> {
  const res = await fetch(`${url}/v1/images/retry`, {
    method: 'POST',
    headers: { ...authed(operator).headers, 'content-type': 'application/json' },
    body: JSON.stringify({ ids }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

describe('POST /v1/images/retry and the fair share', () => {
  it("puts a bulk image at the front of its key's line: ahead of the key's own waiting batch, interleaved with the others", async () => {
    const x = await batchWithAFailure(keyA, 9); // 10 images: bulk
    // No worker now: key A's next batch and key B's wait, interleaved one by one.
    const y = await submit(url, keyA, await tinyImages(20, 'a'));
    const z = await submit(url, keyB, await tinyImages(20, 'b'));
    expect([y.status, z.status]).toEqual([202, 202]);
    const before = await takingOrder();
    expect(before).toHaveLength(40);

    expect(await retry([x.failedId])).toEqual({ retried: [{ id: x.failedId, batchId: x.batchId }], skipped: [] });
    expect((await (await fetch(`${url}/v1/batches/${x.batchId}`, authed(keyA))).json()) as Record<string, unknown>).toMatchObject({
      status: 'running',
      finishedAt: null,
    });
    const job = await detect.getJob(detectImageJobId(x.failedId));
    expect(await job!.getState()).toBe('prioritized');
    expect(job!.priority).toBeGreaterThanOrEqual(FIRST_BULK);
    expect(job!.attemptsMade).toBe(0);
    const after = await takingOrder();
    // At the front of the fair line: the tag of the next bulk job (V), which A's and B's first waiting
    // images share; so it is taken right after those two (FIFO within a priority), not 41st.
    const front = await detect.getJob(before[0]!);
    expect(job!.priority).toBe(front!.priority);
    expect(after.indexOf(detectImageJobId(x.failedId))).toBe(2);
    expect(after.filter((id) => id !== detectImageJobId(x.failedId))).toEqual(before);
    // The allocation was confirmed: none left in flight (it would hold renumbering off).
    const client = (await detect.client) as unknown as Redis;
    expect(await client.zcard(`${env.config.queuePrefix}:fair-share:detect:inflight`)).toBe(0);

    // Run everything: the batch finishes again, the same way.
    await env.worker(services);
    expect(await waitForBatch(url, keyA, x.batchId)).toMatchObject({ status: 'completed_with_errors', progress: { total: 10, done: 9, failed: 1 } });
    await waitForBatch(url, keyA, y.body.id);
    await waitForBatch(url, keyB, z.body.id);
    await env.closeWorkers();
  });

  it('gives an interactive batch its image back with the interactive priority', async () => {
    const x = await batchWithAFailure(keyB, 2); // 3 images: interactive
    await submit(url, keyA, await tinyImages(12, 'w'));
    expect(await retry([x.failedId])).toMatchObject({ retried: [{ id: x.failedId }] });
    const job = await detect.getJob(detectImageJobId(x.failedId));
    expect(job!.priority).toBe(INTERACTIVE_PRIORITY);
    expect((await takingOrder())[0]).toBe(detectImageJobId(x.failedId));
  });
});
