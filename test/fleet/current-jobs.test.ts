// A worker's current jobs (the fleet view's ACTIVE) are the jobs whose
// processor is running, however they end: also a job whose keys Redis lost
// while it ran (a Redis restarted empty), which ends with no 'completed' or
// 'failed' event, only a worker error.
import type { Job } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerDeps } from '../../src/jobs/registry.js';
import type { Services } from '../../src/runtime/services.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/start-workers.js';
import { until } from '../helpers/receivers.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let running: RunningWorkers | undefined;

beforeAll(async () => {
  env = await createTestEnv('current_jobs');
  services = await env.open();
});
afterAll(async () => {
  await running?.close(2000);
  await env.cleanup();
});

describe('current jobs', () => {
  it('a job whose keys vanish while it runs leaves the list when its processor ends; finished jobs leave it too', async () => {
    const releases = new Map<string, () => void>();
    const processor = (job: Job) => new Promise<unknown>((resolve) => releases.set(String(job.id), () => resolve({ ok: true })));
    running = await startWorkers({
      queues: ['notify'],
      concurrency: 2,
      connection: services.workerRedis,
      prefix: env.config.queuePrefix,
      lockMs: 30_000,
      deps: {} as HandlerDeps, // not used: the processor is the test's
      logger: pino({ level: 'silent' }),
      processors: new Map([['notify', processor]]),
    });
    const queue = services.queues.get('notify')!;
    await queue.add('probe', {}, { jobId: 'kept' });
    await queue.add('probe', {}, { jobId: 'lost' });
    await until('both jobs running', () => Promise.resolve(releases.size === 2 || undefined), 10_000);
    expect(
      running
        .stats()
        .currentJobs.map((j) => j.id)
        .sort(),
    ).toEqual(['kept', 'lost']);

    // Redis loses one job while it runs, as a Redis restarted empty would.
    const prefix = `${env.config.queuePrefix}:notify`;
    await services.redis.del(`${prefix}:lost`, `${prefix}:lost:lock`);
    await services.redis.lrem(`${prefix}:active`, 0, 'lost');
    releases.get('lost')!();
    releases.get('kept')!();
    await until('no current job left', () => Promise.resolve(running!.stats().currentJobs.length === 0 || undefined), 10_000);
    expect(running.stats().jobsDone).toBe(1); // only the job Redis still knew completed
  });
});
