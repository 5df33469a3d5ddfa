// A queue's failure rate is judged on its recent jobs, not on everything
// BullMQ keeps: failures followed by a run of successes are ok again at once,
// failures older than the window no longer count, and failures that keep
// coming still warn. Real jobs on a real queue; the probe's clock injected.
import { Worker } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeQueues } from '../../src/health/probes.js';
import { failureRate, MIN_FINISHED } from '../../src/health/recent-outcomes.js';
import type { Services } from '../../src/runtime/services.js';
import { until } from '../helpers/receivers.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let worker: Worker;
let finished = 0;

beforeAll(async () => {
  env = await createTestEnv('failure_rate');
  services = await env.open();
  // One job at a time, in order: each fails or succeeds as its data says.
  worker = new Worker('backup', (job) => (job.data.fail ? Promise.reject(new Error('pg_dump: not found')) : Promise.resolve({ ok: true })), {
    connection: services.redis,
    prefix: env.config.queuePrefix,
    concurrency: 1,
  });
  worker.on('completed', () => finished++);
  worker.on('failed', () => finished++);
});
afterAll(async () => {
  await worker?.close();
  await env.cleanup();
});

/** Runs these outcomes (true = fails) through the backup queue, in order, and waits for all. */
async function run(outcomes: boolean[]): Promise<void> {
  const target = finished + outcomes.length;
  const queue = services.queues.get('backup')!;
  for (const fail of outcomes) await queue.add('test-outcome', { fail }, { attempts: 1 });
  await until(`${outcomes.length} jobs to finish`, () => (finished >= target ? true : undefined), 30_000);
  await new Promise((r) => setTimeout(r, 5)); // the next job finishes in a later millisecond
}

async function backupRate(now = new Date()) {
  const deps = {
    pool: services.pool,
    redis: services.redis,
    queues: services.queues,
    blobs: services.blobs,
    config: services.config,
    now: () => now,
    logger: pino({ level: 'silent' }),
  };
  return (await probeQueues(deps)).find((c) => c.name === 'queue.backup.failure_rate')!;
}

describe('queue.<name>.failure_rate', () => {
  it('is ok again once the queue works: failures followed by a run of successes', async () => {
    await run([true, true, true, true, true]);
    expect(await backupRate()).toMatchObject({ status: 'ok', value: 1, message: '5 failed of 5 jobs finished in the last hour: too few to judge (10 needed)' });
    await run(Array<boolean>(5).fill(false));
    expect(await backupRate()).toMatchObject({ status: 'warn', value: 0.5, threshold: 0.2, unit: 'ratio' });
    await run(Array<boolean>(MIN_FINISHED).fill(false));
    // Everything BullMQ keeps would still say 5 of 20 (0.25): the queue works again.
    expect(await backupRate()).toMatchObject({ status: 'ok', value: 0, message: '15 jobs in a row succeeded since the last failure' });
  });

  it('warns while failures keep coming, and forgets them after the window', async () => {
    await run([true, false, false, true, false, false, true, false, false, true]);
    const now = await backupRate();
    expect(now.status).toBe('warn');
    expect(now.message).toBe('9 failed of 30 jobs finished in the last hour');
    expect(await backupRate(new Date(Date.now() + 61 * 60_000))).toMatchObject({ status: 'ok', value: 0, message: 'no jobs finished in the last hour' });
  });

  it('failureRate: the arithmetic', () => {
    expect(failureRate({ completed: 8, failed: 2, succeededSinceFailure: 3 })).toEqual({ rate: 0.2, finished: 10, recovered: false, judged: true });
    expect(failureRate({ completed: 5, failed: 5, succeededSinceFailure: 10 })).toEqual({ rate: 0, finished: 10, recovered: true, judged: true });
    expect(failureRate({ completed: 0, failed: 0, succeededSinceFailure: 0 })).toEqual({ rate: 0, finished: 0, recovered: false, judged: false });
    expect(failureRate({ completed: 20, failed: 0, succeededSinceFailure: 20 })).toEqual({ rate: 0, finished: 20, recovered: false, judged: true });
  });
});
