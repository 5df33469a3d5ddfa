// Queue control through the CLI and /v1/queues: pause, resume, retry failed
// jobs, clean finished ones; each audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let operator: string;

beforeAll(async () => {
  env = await createTestEnv('queue_control');
  services = await env.open();
  url = (await env.api(services)).url;
  operator = await env.key(services, 'operator');
});
afterAll(() => env.cleanup());

const post = (path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { ...authed(operator).headers, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));
const list = async () =>
  ((await (await fetch(`${url}/v1/queues`, authed(operator))).json()) as { queues: Array<{ name: string; paused: boolean; counts: Record<string, number> }> })
    .queues;

describe('queue control', () => {
  it('pause and resume from the CLI show in the API, audited', async () => {
    const paused = await runCli(['queues', 'pause', 'detect'], { env: env.env });
    expect(paused.code).toBe(0);
    expect(jsonLines(paused.stdout)[0]).toEqual({ queue: 'detect', action: 'pause', affected: 0 });
    expect((await list()).find((q) => q.name === 'detect')?.paused).toBe(true);
    expect((await post('/v1/queues/detect/resume')).status).toBe(200);
    expect((await list()).find((q) => q.name === 'detect')?.paused).toBe(false);
    const audit = await env.sql<{ actor: string; action: string }>(
      `SELECT actor, action FROM audit_log WHERE target = 'queue:detect' AND action LIKE 'queue.%' ORDER BY id`,
    );
    expect(audit).toEqual([
      { actor: 'cli', action: 'queue.pause' },
      { actor: expect.stringMatching(/^key:/), action: 'queue.resume' },
    ]);
  });

  it('retry-failed and clean act on real failed jobs', async () => {
    const notify = services.queues.get('notify')!;
    // A job that fails at once: a webhook with an unparseable payload.
    const job = await notify.add('webhook', { nonsense: true }, { attempts: 1 });
    const { Worker } = await import('bullmq');
    const worker = new Worker('notify', () => Promise.reject(new Error('boom')), { connection: services.workerRedis, prefix: env.config.queuePrefix });
    await new Promise<void>((resolve) => worker.on('failed', () => resolve()));
    await worker.close();
    expect((await list()).find((q) => q.name === 'notify')?.counts.failed).toBe(1);
    const retried = await post('/v1/queues/notify/retry-failed');
    expect(retried.body).toEqual({ queue: 'notify', action: 'retry-failed', affected: 1 });
    expect(await notify.getJobState(String(job.id))).toBe('waiting');
    await notify.pause();
    const cleaned = await runCli(['queues', 'clean', 'notify', '--state', 'failed', '--older-than-minutes', '1'], { env: env.env });
    expect(cleaned.code).toBe(0);
    expect((await post('/v1/queues/nope/pause')).status).toBe(404);
    expect((await runCli(['queues', 'pause', 'nope'], { env: env.env })).code).toBe(2);
  });
});
