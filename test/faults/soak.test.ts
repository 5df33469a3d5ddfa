// A soak at a steady submit rate: the detect worker's RSS stays flat after
// warm-up (growth under 20 %) and no job is lost. 60 seconds in the suite;
// `npm run soak` runs it for 10 minutes (SOAK_SECONDS).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/receivers.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { createTestEnv, submit, type TestEnv } from '../helpers/test-env.js';
import { photoVariants } from '../helpers/variants.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const INTERVAL_MS = 500;
const PER_BATCH = 2;

let env: TestEnv;
let worker: WorkerChild;
let url: string;
let key: string;

beforeAll(async () => {
  env = await createTestEnv('soak');
  const services = await env.open();
  url = (await env.api(services)).url;
  key = await env.key(services, 'submitter');
  worker = await spawnWorker(env.env, ['--queues', 'detect,batches', '--concurrency', '2']);
});
afterAll(async () => {
  await worker.stop();
  await env.cleanup();
});

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe(`soak for ${SECONDS} s`, () => {
  it(
    'keeps worker RSS flat after warm-up and loses no job',
    async () => {
      const pid = worker.child.pid!;
      const rounds = Math.floor((SECONDS * 1000) / INTERVAL_MS);
      const files = await photoVariants(rounds * PER_BATCH, `soak-${Date.now()}`);
      const samples: Array<{ t: number; rss: number }> = [];
      const ids: string[] = [];
      const started = Date.now();
      for (let i = 0; i < rounds; i++) {
        const { status, body } = await submit(url, key, files.slice(i * PER_BATCH, (i + 1) * PER_BATCH));
        expect(status).toBe(202);
        ids.push(body.id);
        if (i % 4 === 0) samples.push({ t: (Date.now() - started) / 1000, rss: rssMb(pid) });
        const next = started + (i + 1) * INTERVAL_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
      await until(
        'every batch',
        async () => {
          const [row] = await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM batches WHERE status = 'completed'`);
          return row!.n === ids.length ? true : undefined;
        },
        120_000,
      );
      const [images] = await env.sql<{ done: number; total: number }>(
        `SELECT count(*) FILTER (WHERE status = 'done')::int AS done, count(*)::int AS total FROM images`,
      );
      expect(images).toEqual({ done: files.length, total: files.length });

      const warm = Math.max(15, SECONDS * 0.2);
      const afterWarmup = samples.filter((s) => s.t >= warm);
      const baseline = afterWarmup[0]!.rss;
      const lastThird = afterWarmup.slice(Math.floor((afterWarmup.length * 2) / 3));
      const peakLate = Math.max(...lastThird.map((s) => s.rss));
      const growth = (peakLate - baseline) / baseline;
      process.stdout.write(
        `soak: ${files.length} images in ${SECONDS} s, worker RSS ${baseline.toFixed(0)} MB after warm-up, ${peakLate.toFixed(0)} MB peak in the last third (${(growth * 100).toFixed(1)} %)\n`,
      );
      expect(growth).toBeLessThan(0.2);
    },
    (SECONDS + 240) * 1000,
  );
});
