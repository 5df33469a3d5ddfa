// The micro-batcher's scheduling rules, with a real async batch function.
import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../src/detection/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingBatcher(options: { maxBatch: number; maxDelayMs: number; maxConcurrentRuns?: number; runMs?: number }) {
  const batches: number[][] = [];
  let running = 0;
  let maxRunning = 0;
  const batcher = new MicroBatcher<number, number>(
    async (items) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      batches.push(items);
      await sleep(options.runMs ?? 5);
      running--;
      if (items.includes(-1)) throw new Error('bad item in batch');
      return items.map((x) => x * 10);
    },
    { maxBatch: options.maxBatch, maxDelayMs: options.maxDelayMs, maxConcurrentRuns: options.maxConcurrentRuns ?? 1 },
  );
  return { batcher, batches, maxRunning: () => maxRunning };
}

describe('MicroBatcher', () => {
  it('runs a full batch at once and answers each caller with its own result', async () => {
    const { batcher, batches } = recordingBatcher({ maxBatch: 3, maxDelayMs: 10_000 });
    const started = Date.now();
    await expect(Promise.all([1, 2, 3].map((x) => batcher.submit(x)))).resolves.toEqual([10, 20, 30]);
    expect(Date.now() - started).toBeLessThan(1000); // did not wait for the delay
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('runs a partial batch after maxDelayMs', async () => {
    const { batcher, batches } = recordingBatcher({ maxBatch: 8, maxDelayMs: 30 });
    const started = performance.now();
    await expect(batcher.submit(7)).resolves.toBe(70);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(batches).toEqual([[7]]);
  });

  it('collects what arrives during a run into the next batch', async () => {
    const { batcher, batches, maxRunning } = recordingBatcher({ maxBatch: 4, maxDelayMs: 0, runMs: 30 });
    const first = batcher.submit(1);
    await sleep(5);
    const rest = [2, 3, 4, 5, 6].map((x) => batcher.submit(x));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4, 5], [6]]);
    expect(maxRunning()).toBe(1);
  });

  it('allows maxConcurrentRuns batches in flight', async () => {
    const { batcher, maxRunning } = recordingBatcher({ maxBatch: 1, maxDelayMs: 0, maxConcurrentRuns: 2, runMs: 20 });
    await Promise.all([1, 2, 3, 4].map((x) => batcher.submit(x)));
    expect(maxRunning()).toBe(2);
  });

  it('rejects every item of a failed batch, and keeps working', async () => {
    const { batcher } = recordingBatcher({ maxBatch: 2, maxDelayMs: 10_000 });
    const results = await Promise.allSettled([batcher.submit(1), batcher.submit(-1)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(Promise.all([batcher.submit(4), batcher.submit(5)])).resolves.toEqual([40, 50]);
  });

  it('close() flushes what is pending, then refuses new items', async () => {
    const { batcher, batches } = recordingBatcher({ maxBatch: 8, maxDelayMs: 10_000 });
    const pending = batcher.submit(3);
    await batcher.close();
    await expect(pending).resolves.toBe(30);
    expect(batches).toEqual([[3]]);
    await expect(batcher.submit(4)).rejects.toThrow(/closed/);
  });

  it('refuses nonsense options', () => {
    const run = (xs: number[]) => Promise.resolve(xs);
    expect(() => new MicroBatcher(run, { maxBatch: 0, maxDelayMs: 1, maxConcurrentRuns: 1 })).toThrow(RangeError);
    expect(() => new MicroBatcher(run, { maxBatch: 1, maxDelayMs: -1, maxConcurrentRuns: 1 })).toThrow(RangeError);
  });
});
