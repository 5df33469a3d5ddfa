// The backup.dir probe: a BACKUP_DIR that backups cannot write to is critical
// now, not when the nightly backup fails. Tests run as root, which ignores
// file modes, so unwritable is made with paths that cannot be directories.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeBackupDir } from '../../src/health/backup-dir-probe.js';
import { runProbes } from '../../src/health/probes.js';
import { ruleFor } from '../../src/alerts/rules.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lookout-backupdir-'));
  await writeFile(path.join(root, 'a-file'), 'x');
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('probeBackupDir', () => {
  it('a writable directory is ok, and the probe leaves nothing in it', async () => {
    expect(await probeBackupDir(root, true)).toMatchObject({ name: 'backup.dir', status: 'ok', value: 'writable' });
    expect(await readdir(root)).toEqual(['a-file']);
  });

  it('a directory not made yet is ok when it can be made (the first backup creates it), and says so', async () => {
    expect(await probeBackupDir(path.join(root, 'later', 'backups'), true)).toMatchObject({
      status: 'ok',
      value: 'missing',
      message: expect.stringMatching(/does not exist yet; the first backup creates it \(if a volume should be mounted there, it is not\)$/),
    });
  });

  it.each([
    ['a file, not a directory', (r: string) => path.join(r, 'a-file'), /^BACKUP_DIR .*a-file is not a directory$/],
    [
      'under a file (ENOTDIR)',
      (r: string) => path.join(r, 'a-file', 'backups'),
      /^BACKUP_DIR .*a-file\/backups cannot exist: a part of its path is a file, not a directory$/,
    ],
    [
      'missing, under a file further up',
      (r: string) => path.join(r, 'a-file', 'x', 'backups'),
      /cannot exist: a part of its path is a file|cannot be created: .*a-file is not a directory/,
    ],
  ])('%s: critical, naming the problem', async (_what, dirOf, message) => {
    expect(await probeBackupDir(dirOf(root), true)).toMatchObject({
      name: 'backup.dir',
      status: 'critical',
      value: 'unwritable',
      message: expect.stringMatching(message),
    });
  });

  it('with backups off nothing is checked', async () => {
    expect(await probeBackupDir(path.join(root, 'a-file'), false)).toMatchObject({ status: 'ok', value: 'off' });
  });

  it('alerts under its own rule', () => {
    expect(ruleFor('backup.dir')).toBe('backup_dir');
  });
});

describe('in the health check', () => {
  let env: TestEnv;
  let services: Services;
  beforeAll(async () => {
    env = await createTestEnv('backup_dir_probe', { BACKUP_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') });
    services = await env.open();
  });
  afterAll(() => env.cleanup());

  it('a BACKUP_DIR that is a file makes the whole check critical', async () => {
    const deps = (dir: string) => ({
      redis: services.redis,
      pool: services.pool,
      queues: services.queues,
      blobs: services.blobs,
      config: { ...services.config, backup: { ...services.config.backup, dir } },
      now: () => new Date(),
    });
    const good = await runProbes(deps(root));
    expect(good.components.find((c) => c.name === 'backup.dir')).toMatchObject({ status: 'ok' });
    const bad = await runProbes(deps(path.join(root, 'a-file')));
    expect(bad.status).toBe('critical');
    expect(bad.components.find((c) => c.name === 'backup.dir')).toMatchObject({ status: 'critical', message: expect.stringMatching(/is not a directory$/) });
  });
});
