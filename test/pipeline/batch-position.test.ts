// GET /v1/batches/:id's position: images of other batches ahead of the
// batch's next waiting one, read from the detect queue's prioritized set. No
// worker runs until the end, so the queue holds still.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';
import { tinyImages as tinyImagesOf } from '../helpers/tiny-images.js';

let env: TestEnv;
let services: Services;
let url: string;

const tinyImages = (n: number) => tinyImagesOf(n, 'pos');

beforeAll(async () => {
  env = await createTestEnv('batch_position', { INTERACTIVE_MAX_IMAGES: '2' });
  services = await env.open();
  url = (await env.api(services)).url;
}, 60_000);
afterAll(() => env.cleanup());

async function view(key: string, id: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}/v1/batches/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as Record<string, any>;
}

describe('a batch position', () => {
  it('counts the images of other batches ahead: fair share puts key B near the front, interactive at the front; null once finished', async () => {
    const a = await env.key(services, 'submitter');
    const b = await env.key(services, 'submitter');
    const batchA = await submit(url, a, await tinyImages(50));
    const batchB = await submit(url, b, await tinyImages(10));
    expect([batchA.status, batchB.status]).toEqual([202, 202]);

    expect(await view(a, batchA.body.id)).toMatchObject({ lane: 'bulk', position: 0 });
    // B's images interleave with A's one by one: only A's first image is ahead of B's first.
    const posB = (await view(b, batchB.body.id)).position as number;
    expect(posB).toBeLessThanOrEqual(2);

    const first = await submit(url, b, await tinyImages(1));
    expect(await view(b, first.body.id)).toMatchObject({ lane: 'interactive', position: 0 });
    const second = await submit(url, a, await tinyImages(2));
    expect(await view(a, second.body.id)).toMatchObject({ lane: 'interactive', position: 1 }); // the first interactive batch's image
    // The interactive images now run first: A's bulk batch is behind them.
    expect((await view(a, batchA.body.id)).position).toBe(3);
    console.log(`positions: A 3, B ${posB} (A 50 images, B 10, then 1 and 2 interactive)`);

    // The list has no position (read from the queue one batch at a time).
    const list = (await (await fetch(`${url}/v1/batches`, { headers: { authorization: `Bearer ${a}` } })).json()) as any;
    expect(list.batches[0]).not.toHaveProperty('position');

    await env.worker(services, { concurrency: 4 });
    for (const [key, id] of [
      [a, batchA.body.id],
      [b, batchB.body.id],
      [b, first.body.id],
      [a, second.body.id],
    ] as Array<[string, string]>) {
      await waitForBatch(url, key, id, 60_000);
      expect((await view(key, id)).position).toBeNull();
    }
    await env.closeWorkers();
  }, 120_000);
});
