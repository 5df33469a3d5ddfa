// A real `lookout worker` child process, for tests that need several
// processes (and, later, kill -9).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './run-cli.js';

export interface WorkerChild {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

/** Starts `lookout worker ARGS` (in `options.cwd`, default the test's own) and waits for it to say its workers started. */
export async function spawnWorker(env: Record<string, string>, args: string[], readyTimeoutMs = 30_000, options: { cwd?: string } = {}): Promise<WorkerChild> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), 'worker', ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...process.env, ...env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready in ${readyTimeoutMs} ms:\n${out}`)), readyTimeoutMs);
    const check = () => {
      if (out.includes('"msg":"workers started"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready:\n${out}`));
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
