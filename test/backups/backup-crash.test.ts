// kill -9 of the ops worker in the middle of a dump: the backup is not marked
// succeeded, no finished file appears, and the retried job (picked up by
// another worker after the lock expires) succeeds and cleans up.
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { requestBackup } from '../../src/producers/backup-requests.js';
import { spawnWorker } from '../helpers/spawn-worker.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;

beforeAll(async () => {
  env = await createTestEnv('backup_crash', {
    BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    BACKUP_VERIFY_AFTER: 'false',
    JOB_LOCK_MS: '2000',
  });
  services = await env.open();
  // About 100 MB: a dump that takes seconds, long enough to be killed in.
  await env.sql(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 1000000) g`);
});
afterAll(() => env.cleanup());

const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('an ops worker killed mid-dump', () => {
  it('leaves no backup marked succeeded; the retried job succeeds', async () => {
    const dir = env.config.backup.dir;
    const first = await spawnWorker(env.env, ['--queues', 'backup']);
    const { id } = await requestBackup(services.queues, 'cli');

    // Mid-dump: the row is running and the temporary file is growing.
    await waitFor('a partial dump', async () => {
      const names = await readdir(dir).catch(() => [] as string[]);
      const tmp = names.find((n) => n.endsWith(`-${id}.lkb.tmp`));
      return tmp && (await stat(path.join(dir, tmp))).size > 1024 * 1024 ? tmp : undefined;
    });
    first.child.kill('SIGKILL');
    expect(await first.stop()).toBeNull(); // killed by a signal, no exit code

    const [killed] = await env.sql<{ status: string; attempts: number }>('SELECT status, attempts FROM backups WHERE id = $1', [id]);
    expect(killed).toEqual({ status: 'running', attempts: 1 });
    expect((await readdir(dir)).filter((n) => n.endsWith('.lkb'))).toEqual([]);

    const second = await spawnWorker(env.env, ['--queues', 'backup']);
    try {
      const done = await waitFor('the retried backup', async () => {
        const [row] = await env.sql<{ status: string; attempts: number; file: string }>('SELECT status, attempts, file FROM backups WHERE id = $1', [id]);
        return row && row.status !== 'running' ? row : undefined;
      });
      expect(done.status).toBe('succeeded');
      expect(done.attempts).toBe(2);
      const names = await readdir(dir);
      expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]); // the killed attempt's partial file is gone
      expect(names).toContain(path.basename(done.file));
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
