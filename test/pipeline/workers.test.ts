// Workers as separate, late and parallel processes: a worker started after
// the batch was submitted picks it up; two worker processes on one queue
// share a batch and no image is processed twice or gets two result sets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { spawnWorker } from '../helpers/spawn-worker.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';
import { photoVariants } from '../helpers/variants.js';
import { EXPECTED_FACES } from '../helpers/photos.js';

let env: TestEnv;
let services: Services;
let url: string;
let key: string;

beforeAll(async () => {
  env = await createTestEnv('workers');
  services = await env.open();
  url = (await env.api(services)).url;
  key = await env.key(services, 'submitter');
});
afterAll(() => env.cleanup());

async function resultSets(batchId: string) {
  return env.sql<{ filename: string; rows: number; attempts: number; worker_id: string; status: string }>(
    `SELECT i.filename, i.attempts, i.worker_id, i.status,
            (SELECT count(*)::int FROM detections d WHERE d.image_id = i.id) AS rows
       FROM images i WHERE i.batch_id = $1 ORDER BY i.position`,
    [batchId],
  );
}

describe('a worker started after the batch was submitted', () => {
  it('picks the batch up', async () => {
    const files = await photoVariants(6, 'late');
    const { status, body } = await submit(url, key, files);
    expect(status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    const waiting = (await (await fetch(`${url}/v1/batches/${body.id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as any;
    expect(waiting).toMatchObject({ status: 'queued', progress: { total: 6, done: 0, failed: 0 }, finishedAt: null });

    const worker = await env.worker(services);
    try {
      expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    } finally {
      await worker.close(5000);
    }
  });
});

describe('two worker processes on one queue', () => {
  it('share a batch; every image has exactly one result set', async () => {
    const args = ['--queues', 'detect,batches', '--device', 'cpu', '--concurrency', '2'];
    const workers = await Promise.all([spawnWorker(env.env, args), spawnWorker(env.env, args)]);
    try {
      const files = await photoVariants(36, 'pair');
      const { body } = await submit(url, key, files);
      const batch = await waitForBatch(url, key, body.id, 120_000);
      expect(batch).toMatchObject({ status: 'completed', progress: { total: 36, done: 36, failed: 0 } });

      const rows = await resultSets(body.id);
      expect(rows).toHaveLength(36);
      rows.forEach((row, i) => {
        const source = files[i]!.source;
        expect(row.status).toBe('done');
        expect(row.rows).toBe(EXPECTED_FACES[source]); // one result set: no duplicate detections
        expect(row.attempts).toBe(1); // processed once
      });
      const byWorker = new Map<string, number>();
      for (const row of rows) byWorker.set(row.worker_id, (byWorker.get(row.worker_id) ?? 0) + 1);
      expect(byWorker, JSON.stringify([...byWorker])).toHaveProperty('size', 2); // both processes took part
    } finally {
      const codes = await Promise.all(workers.map((w) => w.stop()));
      expect(codes).toEqual([0, 0]); // SIGTERM drains and exits 0
    }
  });
});
