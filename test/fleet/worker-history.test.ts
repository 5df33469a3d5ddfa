// Restarts do not pile up in the fleet view: workers stopped or missing for
// longer than WORKER_HISTORY_HOURS leave /v1/workers and `lookout workers`,
// and the scheduled health job deletes their rows; live ones always stay. A
// worker whose row was pruned while it was cut off registers again.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { liveWindowMs, liveWorkersPerQueue, markWorkerStopped, registerWorker, type WorkerIdentity } from '../../src/db/repositories/workers.js';
import { startHeartbeat } from '../../src/workers/worker-heartbeat.js';
import { runHealthCheck } from '../../src/jobs/health-probe/handler.js';
import type { Services } from '../../src/runtime/services.js';
import { until } from '../helpers/receivers.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let viewer: string;

beforeAll(async () => {
  env = await createTestEnv('worker_history', { WORKER_HISTORY_HOURS: '2' });
  services = await env.open();
  url = (await env.api(services)).url;
  viewer = await env.key(services, 'viewer');
});
afterAll(() => env.cleanup());

const identity = (id: string): WorkerIdentity => ({
  id,
  host: 'test-host',
  pid: 1000 + id.length,
  queues: ['detect'],
  device: 'cpu',
  concurrency: 1,
  version: '0.1.0',
});
const stats = { jobsDone: 0, jobsFailed: 0, currentJobs: [] };
const idsOf = (workers: Array<{ id: string }>) => workers.map((w) => w.id).sort();

/** A worker row as it would be after `lastSeenHoursAgo` of silence, stopped or not. */
async function worker(id: string, lastSeenHoursAgo: number, stopped: boolean): Promise<void> {
  await registerWorker(services.pool, identity(id), 500);
  if (stopped) await markWorkerStopped(services.pool, id, stats);
  await env.sql(
    `UPDATE workers SET last_seen = now() - $2 * interval '1 hour', stopped_at = CASE WHEN $3 THEN now() - $2 * interval '1 hour' END WHERE id = $1`,
    [id, lastSeenHoursAgo, stopped],
  );
}

describe('the fleet view keeps WORKER_HISTORY_HOURS of history', () => {
  it('lists live workers and those gone within the window, and the health job drops the rest', async () => {
    await worker('live', 0, false);
    await worker('stopped-recently', 1, true);
    await worker('missing-recently', 1.5, false);
    await worker('stopped-long-ago', 3, true);
    await worker('missing-long-ago', 5, false);
    await worker('stopped-yesterday', 20, true);

    const api = (await (await fetch(`${url}/v1/workers`, authed(viewer))).json()) as { workers: Array<{ id: string; state: string }> };
    expect(idsOf(api.workers)).toEqual(['live', 'missing-recently', 'stopped-recently']);
    expect(api.workers.find((w) => w.id === 'live')?.state).toBe('live');

    const cli = await runCli(['workers', '--json'], { env: env.env });
    expect(cli.code, cli.stderr).toBe(0);
    expect(idsOf(jsonLines(cli.stdout)[0]!.workers)).toEqual(['live', 'missing-recently', 'stopped-recently']);

    const deps = {
      pool: services.pool,
      redis: services.redis,
      queues: services.queues,
      blobs: services.blobs,
      flows: services.flows,
      config: services.config,
      logger: pino({ level: 'silent' }),
      now: () => new Date(),
    };
    await runHealthCheck(deps);
    const rows = await env.sql<{ id: string }>('SELECT id FROM workers ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['live', 'missing-recently', 'stopped-recently']);

    // An hour later (injected clock), the recent ones have aged out too; the live one stays.
    await env.sql(`UPDATE workers SET last_seen = now() WHERE id = 'live'`);
    await runHealthCheck({ ...deps, now: () => new Date(Date.now() + 60 * 60_000) });
    expect((await env.sql<{ id: string }>('SELECT id FROM workers ORDER BY id')).map((r) => r.id)).toEqual(['live']);
  });

  it('says what it keeps when nothing is left', async () => {
    await env.sql('DELETE FROM workers');
    const table = await runCli(['workers'], { env: env.env });
    expect(table.stdout).toBe('no live workers, and none stopped or missing in the last 2 hours\n');
  });

  it('a worker whose row was pruned while it was cut off registers again', async () => {
    const beat = await startHeartbeat(services.pool, identity('came-back'), () => stats, { intervalMs: 100, logger: pino({ level: 'silent' }) });
    try {
      await env.sql(`DELETE FROM workers WHERE id = 'came-back'`);
      await until(
        'the worker to register again',
        async () => ((await env.sql(`SELECT 1 FROM workers WHERE id = 'came-back'`)).length ? true : undefined),
        5000,
      );
    } finally {
      await beat.stop();
    }
  });

  it("judges each worker live or missing by its own heartbeat interval, whatever the reader's HEARTBEAT_MS", async () => {
    await env.sql('DELETE FROM workers');
    // Silent for 20 s: live for a worker that beats every 30 s, missing for one that beats every 500 ms.
    for (const [id, beatMs] of [
      ['slow-beat', 30_000],
      ['fast-beat', 500],
    ] as const) {
      await registerWorker(services.pool, identity(id), beatMs);
      await env.sql(`UPDATE workers SET last_seen = now() - interval '20 seconds' WHERE id = $1`, [id]);
    }
    // A row from before workers said their interval: the reader's HEARTBEAT_MS (here 5 s) judges it.
    await registerWorker(services.pool, identity('old-row'), 500);
    await env.sql(`UPDATE workers SET heartbeat_ms = NULL, last_seen = now() - interval '20 seconds' WHERE id = 'old-row'`);
    const expected = { 'fast-beat': 'missing', 'old-row': 'missing', 'slow-beat': 'live' };
    const stateOf = (workers: Array<{ id: string; state: string }>) => Object.fromEntries(workers.map((w) => [w.id, w.state]));
    for (const heartbeatMs of ['5000', '200', '60000']) {
      const cli = await runCli(['workers', '--json'], { env: { ...env.env, HEARTBEAT_MS: heartbeatMs } });
      const seen = stateOf(jsonLines(cli.stdout)[0]!.workers);
      expect([heartbeatMs, seen['fast-beat'], seen['slow-beat']]).toEqual([heartbeatMs, 'missing', 'live']);
    }
    expect(stateOf(((await (await fetch(`${url}/v1/workers`, authed(viewer))).json()) as { workers: Array<{ id: string; state: string }> }).workers)).toEqual(
      expected,
    );
    // The no-worker probe counts the same way: one live detect worker (slow-beat).
    expect(await liveWorkersPerQueue(services.pool, liveWindowMs(100))).toEqual({ detect: 1 });
  });

  it('WORKER_HISTORY_HOURS: 6 by default, at least 1', () => {
    expect(loadConfig({}).workerHistoryHours).toBe(6);
    expect(loadConfig({ WORKER_HISTORY_HOURS: '48' }).workerHistoryHours).toBe(48);
    expect(() => loadConfig({ WORKER_HISTORY_HOURS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ WORKER_HISTORY_HOURS: '0' })).toThrow(/WORKER_HISTORY_HOURS: expected an integer from 1 to 8760, got "0"/);
  });
});
