// A queue's global concurrency, changed at runtime: PUT /v1/queues/:name/concurrency
// (operator, validated, audited) and `lookout queues concurrency`, obeyed by two
// running `lookout worker` processes without a restart; each worker's
// --concurrency stays its local ceiling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';
import { until } from '../helpers/receivers.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { authed, createTestEnv, submit, type TestEnv } from '../helpers/test-env.js';
import { readPhoto } from '../helpers/photos.js';

let env: TestEnv;
let services: Services;
let url: string;
const keys: Record<'viewer' | 'operator' | 'submitter', string> = { viewer: '', operator: '', submitter: '' };
const workers: WorkerChild[] = [];

beforeAll(async () => {
  env = await createTestEnv('global_concurrency');
  services = await env.open();
  url = (await env.api(services)).url;
  for (const role of ['viewer', 'operator', 'submitter'] as const) keys[role] = await env.key(services, role);
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await env.cleanup();
});

const put = (path: string, key: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: 'PUT',
    headers: { ...authed(key).headers, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));
const listed = async () =>
  Object.fromEntries(
    ((await (await fetch(`${url}/v1/queues`, authed(keys.viewer))).json()) as { queues: Array<{ name: string; globalConcurrency: number | null }> }).queues.map(
      (q) => [q.name, q.globalConcurrency],
    ),
  );

describe('PUT /v1/queues/:name/concurrency', () => {
  it('an operator sets and removes it; GET /v1/queues shows it; audited with the old and new value', async () => {
    expect((await listed()).notify).toBeNull();
    const set = await put('/v1/queues/notify/concurrency', keys.operator, { concurrency: 5 });
    expect(set).toEqual({ status: 200, body: { queue: 'notify', previous: null, concurrency: 5 } });
    expect(await services.queues.get('notify')!.getGlobalConcurrency()).toBe(5);
    const all = await listed();
    expect(all.notify).toBe(5);
    expect(all.detect).toBeNull();
    const removed = await put('/v1/queues/notify/concurrency', keys.operator, { concurrency: null });
    expect(removed.body).toEqual({ queue: 'notify', previous: 5, concurrency: null });
    expect((await listed()).notify).toBeNull();

    await new Promise((r) => setTimeout(r, 200)); // the request audit row is written when the answer is sent
    const rows = await env.sql<{ actor: string; action: string; details: Record<string, unknown> }>(
      `SELECT actor, action, details FROM audit_log WHERE target = 'queue:notify' ORDER BY id`,
    );
    const explicit = rows.filter((r) => r.action === 'queue.concurrency');
    expect(explicit.map((r) => r.details)).toEqual([
      { previous: null, concurrency: 5 },
      { previous: 5, concurrency: null },
    ]);
    expect(explicit.every((r) => r.actor.startsWith('key:'))).toBe(true);
    const requests = rows.filter((r) => r.action === 'http.request');
    expect(requests).toHaveLength(2);
    expect(requests[0]!.details).toMatchObject({ route: 'PUT /v1/queues/:name/concurrency', status: 200, role: 'operator' });
  });

  it('refuses a viewer (403), a bad body (400) and an unknown queue (404)', async () => {
    expect((await put('/v1/queues/notify/concurrency', keys.viewer, { concurrency: 2 })).status).toBe(403);
    expect((await put('/v1/queues/notify/concurrency', keys.submitter, { concurrency: 2 })).status).toBe(403);
    for (const bad of [
      {},
      { concurrency: 0 },
      { concurrency: -1 },
      { concurrency: 1.5 },
      { concurrency: '4' },
      { concurrency: 10_001 },
      { concurrency: 2, extra: 1 },
    ]) {
      const res = await put('/v1/queues/notify/concurrency', keys.operator, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
    }
    expect((await put('/v1/queues/notify/concurrency', keys.operator, 'not json')).status).toBe(400);
    const unknown = await put('/v1/queues/nope/concurrency', keys.operator, { concurrency: 2 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    expect(await services.queues.get('notify')!.getGlobalConcurrency()).toBeNull(); // nothing refused was applied
  });
});

describe('lookout queues concurrency', () => {
  it('refuses a bad value and an unknown queue (exit 2)', async () => {
    expect((await runCli(['queues', 'concurrency', 'detect', '0'], { env: env.env })).code).toBe(2);
    expect((await runCli(['queues', 'concurrency', 'detect', 'many'], { env: env.env })).code).toBe(2);
    expect((await runCli(['queues', 'concurrency', 'nope', '3'], { env: env.env })).code).toBe(2);
  });

  it('changes how many detect jobs run at once across two running worker processes, without restarting them', { timeout: 240_000 }, async () => {
    // Two workers, each allowed 4 jobs at once: 8 slots in all.
    const args = ['--queues', 'detect', '--concurrency', '4'];
    workers.push(await spawnWorker(env.env, args), await spawnWorker(env.env, args));
    const pids = workers.map((w) => w.child.pid);
    const detect = services.queues.get('detect')!;
    const cli = async (n: string) => {
      const res = await runCli(['queues', 'concurrency', 'detect', n], { env: env.env });
      expect(res.code, res.stderr).toBe(0);
      return jsonLines(res.stdout)[0];
    };
    expect(await cli('1')).toEqual({ queue: 'detect', previous: null, concurrency: 1 });

    // Distinct copies (a trailer after the image data) of the two smallest photos: real detect jobs, no cache hits.
    const originals = await Promise.all(['rocket.jpg', 'camera.png'].map((name) => readPhoto(name).then((bytes) => ({ name, bytes }))));
    /** A backlog of 300 images (a detect job takes tens of ms here, so each phase gets its own). */
    const backlog = async (tag: string) => {
      const files = Array.from({ length: 300 }, (_, i) => {
        const { name, bytes } = originals[i % 2]!;
        return { name: `${i}-${name}`, bytes: Buffer.concat([bytes, Buffer.from(`lookout-variant:global-concurrency:${tag}:${i}`)]) };
      });
      const { body } = await submit(url, keys.submitter, files);
      expect(body.images).toHaveLength(files.length);
    };
    await backlog('one');
    const completed = () => detect.getJobCounts('completed').then((c) => c.completed ?? 0);
    /** The most detect jobs active at once, sampled every 25 ms for `ms`. */
    const peakActive = async (ms: number) => {
      let peak = 0;
      const samples: number[] = [];
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) {
        const active = await detect.getActiveCount();
        samples.push(active);
        peak = Math.max(peak, active);
      }
      return { peak, samples: samples.length };
    };

    // Limit 1: never more than one job at a time across both processes, and work goes on.
    await until('the first job done', async () => ((await completed()) >= 1 ? true : undefined), 60_000);
    const doneBefore = await completed();
    const one = await peakActive(5_000);
    const doneAtOne = (await completed()) - doneBefore;
    expect(one.peak).toBe(1);
    expect(doneAtOne).toBeGreaterThan(0);

    // Raised to 3 from the CLI: the same processes take up to 3 at once (idle slots notice within the workers' drainDelay, 5 s).
    await backlog('three');
    expect(await cli('3')).toEqual({ queue: 'detect', previous: 1, concurrency: 3 });
    await until('3 active', async () => ((await detect.getActiveCount()) >= 3 ? true : undefined), 15_000);
    const three = await peakActive(5_000);
    expect(three.peak).toBe(3);

    // Removed: each worker's --concurrency (4) is the only ceiling left, 8 in all.
    await backlog('off');
    expect(await cli('off')).toEqual({ queue: 'detect', previous: 3, concurrency: null });
    await until('more than 3 active', async () => ((await detect.getActiveCount()) > 3 ? true : undefined), 15_000);
    const unlimited = await peakActive(3_000);
    expect(unlimited.peak).toBeGreaterThan(3);
    expect(unlimited.peak).toBeLessThanOrEqual(8);

    expect(workers.map((w) => w.child.pid)).toEqual(pids);
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
    const audit = await env.sql<{ actor: string; details: Record<string, unknown> }>(
      `SELECT actor, details FROM audit_log WHERE action = 'queue.concurrency' AND target = 'queue:detect' ORDER BY id`,
    );
    expect(audit).toEqual([
      { actor: 'cli', details: { previous: null, concurrency: 1 } },
      { actor: 'cli', details: { previous: 1, concurrency: 3 } },
      { actor: 'cli', details: { previous: 3, concurrency: null } },
    ]);
    // Both processes did detect work.
    await detect.pause(); // nothing new starts; the workers drain what they hold
    for (const w of workers) expect(await w.stop()).toBe(0);
    const perWorker = await env.sql<{ pid: number; jobs_done: number }>('SELECT pid, jobs_done FROM workers ORDER BY pid');
    expect(perWorker).toHaveLength(2);
    expect(perWorker.every((w) => w.jobs_done > 0)).toBe(true);
    console.log(
      `global concurrency: limit 1 peak ${one.peak} (${one.samples} samples, ${doneAtOne} done in 5 s), limit 3 peak ${three.peak} (${three.samples} samples), off peak ${unlimited.peak} (${unlimited.samples} samples); jobs per worker ${perWorker.map((w) => w.jobs_done).join(', ')}`,
    );
  });
});
