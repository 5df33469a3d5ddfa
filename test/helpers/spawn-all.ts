// A real `lookout all` child process on a free port (bin/lookout.js, so
// whatever it does before the CLI loads, tracing included, happens as in
// production), ready once /readyz answers 200.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './ports.js';
import { until } from './receivers.js';
import { REPO_ROOT } from './run-cli.js';

export interface AllChild {
  child: ChildProcess;
  url: string;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

export async function spawnLookoutAll(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<AllChild> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), 'all'], {
    env: { ...process.env, LOG_FORMAT: 'json', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      'lookout all ready',
      () => {
        if (child.exitCode !== null) throw new Error(`lookout all exited with ${child.exitCode}:\n${out}`);
        return fetch(`${url}/readyz`).then(
          (r) => (r.ok ? true : undefined),
          () => undefined,
        );
      },
      readyTimeoutMs,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    url,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
