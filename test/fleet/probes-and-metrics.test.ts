// A Redis with the wrong eviction policy is reported; /metrics moves by a
// batch's size; a worker process serves its own /metrics on METRICS_PORT.
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conditionsFrom } from '../../src/alerts/rules.js';
import { probeRedis } from '../../src/health/probes.js';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { until } from '../helpers/receivers.js';
import { waitForRedis } from '../helpers/private-servers.js';
import { spawnWorker } from '../helpers/spawn-worker.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

describe('a Redis with the wrong eviction policy', () => {
  let server: ChildProcess;
  let redis: Redis;
  const port = 6300 + Math.floor(Math.random() * 500);
  beforeAll(async () => {
    server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'],
      { stdio: 'ignore' },
    );
    await waitForRedis(port);
    redis = new Redis({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    redis.disconnect();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  });

  it('is reported critical, with what to do, and raises its alert', async () => {
    const components = await probeRedis(redis);
    const policy = components.find((c) => c.name === 'redis.eviction_policy');
    expect(policy).toMatchObject({ status: 'critical', value: 'allkeys-lru', threshold: 'noeviction', message: expect.stringMatching(/set it to noeviction/) });
    expect(components.find((c) => c.name === 'redis.memory')).toMatchObject({ threshold: 0.75, unit: 'ratio' });
    const conditions = conditionsFrom({ at: new Date(), status: 'critical', components }, { backlogMinutes: 10 } as never);
    expect(conditions).toEqual([expect.objectContaining({ rule: 'redis_eviction_policy', key: 'redis.eviction_policy', severity: 'critical', forMinutes: 0 })]);
  });

  it('the shared Redis of this machine is noeviction', async () => {
    const shared = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      expect((await probeRedis(shared)).find((c) => c.name === 'redis.eviction_policy')?.status).toBe('ok');
    } finally {
      shared.disconnect();
    }
  });
});

/** Sum of the samples of a metric whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

describe('/metrics around an end-to-end batch', () => {
  let env: TestEnv;
  let services: Services;
  let url: string;
  beforeAll(async () => {
    env = await createTestEnv('metrics');
    services = await env.open();
    url = (await env.api(services)).url;
    await env.worker(services);
  });
  afterAll(() => env.cleanup());

  it('stage histograms, batch sizes, image counters and job durations move by the batch size', async () => {
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const before = await scrape();
    const key = await env.key(services, 'submitter');
    const files = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
    const { body } = await submit(url, key, files);
    expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    const after = await until('the job metrics', async () => {
      const text = await scrape();
      return sample(text, 'lookout_job_duration_seconds_count', { name: 'finalize-batch' }) >= 1 ? text : undefined;
    });
    const delta = (name: string, labels?: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);

    for (const stage of ['decode', 'preprocess', 'inference', 'postprocess']) {
      expect(delta('lookout_detect_stage_seconds_count', { stage, model: 'blazeface-back', device: 'cpu' })).toBe(6);
    }
    expect(delta('lookout_detect_stage_seconds_sum', { stage: 'inference' })).toBeGreaterThan(0);
    expect(delta('lookout_detect_batch_size_count')).toBe(6); // fixed batch of 1: six runs
    expect(delta('lookout_images_total', { outcome: 'done' })).toBe(6);
    expect(delta('lookout_job_duration_seconds_count', { queue: 'detect', name: 'detect-image', outcome: 'completed' })).toBe(6);
    expect(sample(after, 'lookout_queue_jobs', { queue: 'detect', state: 'completed' })).toBe(6);
    expect(sample(after, 'lookout_worker_up')).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^process_resident_memory_bytes /m); // default process metrics
    // Six photos: the interactive lane (INTERACTIVE_MAX_IMAGES 8); each waited once, queued to started.
    expect(delta('lookout_detect_wait_seconds_count', { lane: 'interactive' })).toBe(6);
    expect(after).toMatch(/^# TYPE lookout_detect_wait_seconds histogram$/m);
  });

  it('images waiting per key: the keys with work queued, then none once it has run', async () => {
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    await env.closeWorkers();
    const key = await env.key(services, 'submitter');
    const keyId = key.split('_')[1]!;
    const files = await Promise.all(ALL_PHOTOS.slice(0, 3).map(async (name) => ({ name, bytes: await readPhoto(name) })));
    const { body } = await submit(url, key, files);
    const waiting = await scrape();
    expect(waiting).toMatch(/^# TYPE lookout_detect_waiting_images gauge$/m);
    expect(sample(waiting, 'lookout_detect_waiting_images', { key: keyId })).toBe(3);
    await env.worker(services);
    expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    expect(sample(await scrape(), 'lookout_detect_waiting_images', { key: keyId })).toBe(0);
  });

  it('a worker process serves its own /metrics on METRICS_PORT', async () => {
    const port = 9400 + Math.floor(Math.random() * 500);
    const worker = await spawnWorker({ ...env.env, METRICS_PORT: String(port) }, ['--queues', 'batches']);
    try {
      const text = await until('the worker metrics', async () =>
        fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => undefined,
        ),
      );
      expect(sample(text, 'lookout_worker_up', { queues: 'batches' })).toBe(1);
      expect(text).toMatch(/^# TYPE lookout_detect_stage_seconds histogram$/m);
    } finally {
      expect(await worker.stop()).toBe(0);
    }
  });
});
