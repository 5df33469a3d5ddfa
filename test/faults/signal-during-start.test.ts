// A worker (or `lookout all`) signalled while it is still starting drains like
// any other: it waits for its start to finish, closes what started (its
// heartbeat row marked stopped) and exits 0. Before, Node's default SIGTERM
// killed it at once: a row that looked live for three more beats, and `lookout
// fleet`'s "every worker stopped" was not true when it said it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv('signal_start', { HEARTBEAT_MS: '300' });
  await env.open();
});
afterAll(() => env.cleanup());

/** Starts `lookout <args>`, sends SIGTERM as soon as its output contains `when`, and answers how it ended. */
function signalledWhen(args: string[], when: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; pid: number }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), ...args], {
    env: { ...process.env, ...env.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let sent = false;
  const watch = (d: Buffer) => {
    out += d.toString();
    if (!sent && out.includes(when)) {
      sent = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', watch);
  child.stderr.on('data', watch);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out, pid: child.pid! })));
}

describe('a signal while the process is starting', () => {
  it.each([
    ['lookout worker --queues detect', ['worker', '--queues', 'detect']],
    ['lookout all', ['all']],
  ])(
    '%s, signalled once its model is loaded (before it has registered): drains, exits 0, leaves no live row',
    async (_name, args) => {
      const ended = await signalledWhen(args, '"msg":"model loaded"');
      expect({ code: ended.code, signal: ended.signal }, ended.out).toEqual({ code: 0, signal: null });
      expect(ended.out).toContain('"msg":"stopped"');
      const rows = await env.sql<{ stopped: boolean }>(`SELECT stopped_at IS NOT NULL AS stopped FROM workers WHERE pid = $1`, [ended.pid]);
      expect(rows.length).toBeGreaterThan(0); // it finished starting (registered) before it stopped
      expect(rows.every((r) => r.stopped)).toBe(true);
    },
    60_000,
  );
});
