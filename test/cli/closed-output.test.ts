// A command whose reader goes away early (`lookout backup list | head -1`)
// stops quietly with status 0, instead of an unhandled EPIPE stack trace.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv('closed_output');
  await env.open();
  // Far more output than a pipe holds.
  await env.sql(`INSERT INTO backups (id, status, trigger, actor) SELECT gen_random_uuid(), 'failed', 'manual', 'test' FROM generate_series(1, 5000)`);
});
afterAll(() => env.cleanup());

describe('a reader that stops reading', () => {
  it('lookout backup list | head -1: exit 0, nothing on stderr', async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), 'backup', 'list'], {
      env: { ...process.env, ...env.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read the first chunk, then close our end, as head does.
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(first).toMatch(/failed\s+manual/);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
