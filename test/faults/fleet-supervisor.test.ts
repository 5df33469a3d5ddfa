// `lookout fleet` keeps one host's workers running: a worker killed with
// SIGKILL is restarted; SIGTERM stops them all and exits 0. The memory guard
// drains a worker past WORKER_MAX_RSS_MB and exits 75 for a restart.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/receivers.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { spawnWorker } from '../helpers/spawn-worker.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv('fleet', { HEARTBEAT_MS: '300' });
  await env.open();
});
afterAll(() => env.cleanup());

const live = () =>
  env.sql<{ pid: number; queues: string[] }>(`SELECT pid, queues FROM workers WHERE stopped_at IS NULL AND last_seen > now() - interval '900 milliseconds'`);

describe('lookout fleet', () => {
  it('restarts a killed worker and stops everything on SIGTERM', async () => {
    const fleet = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), 'fleet', '--devices', 'cpu', '--detect-per-device', '1', '--ops', '1'], {
      env: { ...process.env, ...env.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    fleet.stdout.on('data', (d: Buffer) => (out += d.toString()));
    fleet.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const first = await until(
        'two live workers',
        async () => {
          const rows = await live();
          return rows.length === 2 ? rows : undefined;
        },
        60_000,
      );
      const detect = first.find((w) => w.queues.includes('detect'))!;
      expect(first.find((w) => w.queues.includes('backup'))).toBeDefined();
      process.kill(detect.pid, 'SIGKILL');
      const replaced = await until(
        'a new detect worker',
        async () => {
          const rows = await live();
          return rows.find((w) => w.queues.includes('detect') && w.pid !== detect.pid);
        },
        60_000,
      );
      expect(replaced.pid).not.toBe(detect.pid);
      expect(out).toMatch(/fleet: worker exited; restarting/);
    } finally {
      fleet.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => fleet.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/fleet: all workers stopped/);
    expect(await live()).toEqual([]);
  });
});

describe('the memory guard', () => {
  it('drains a worker whose RSS passes WORKER_MAX_RSS_MB and exits 75', async () => {
    const worker = await spawnWorker({ ...env.env, WORKER_MAX_RSS_MB: '64' }, ['--queues', 'detect']);
    const code = await until('the guarded worker to exit', () => worker.child.exitCode ?? undefined, 30_000);
    expect(code).toBe(75);
    expect(worker.output()).toMatch(/memory guard: RSS above WORKER_MAX_RSS_MB/);
    expect(worker.output()).toMatch(/"msg":"stopped"/);
  });
});
