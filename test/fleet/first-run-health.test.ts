// A fresh install is healthy: with a backup key, the first backup gets
// ALERT_BACKUP_MAX_AGE_HOURS from the install before it counts as stale (no
// critical, no alert), while backups that worked and then stopped are stale
// after the same time. Without a key, "backups are off" is a warning of its
// own with the command that fixes it, never the backup_stale alert; `config
// check` and /v1/info say so too. Clocks are injected where time matters.
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installedAt } from '../../src/db/migrate.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import { insertBackup } from '../../src/db/repositories/backups.js';
import { probeBackups, runProbes } from '../../src/health/probes.js';
import { runHealthCheck } from '../../src/jobs/health-probe/handler.js';
import type { OpsJobDeps } from '../../src/jobs/ops-deps.js';
import type { Services } from '../../src/runtime/services.js';
import { runCli } from '../helpers/run-cli.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

const KEY = randomBytes(32).toString('base64');
const HOUR = 3_600_000;
let env: TestEnv;
let withKey: Services;
let noKey: Services;
let urlWithKey: string;
let urlNoKey: string;
let viewer: string;

beforeAll(async () => {
  env = await createTestEnv('first_run', { BACKUP_ENCRYPTION_KEY: KEY });
  withKey = await env.open();
  // The same install, served by a process without the key.
  noKey = await env.open((c) => ({ ...c, backup: { ...c.backup, key: undefined } }));
  urlWithKey = (await env.api(withKey)).url;
  urlNoKey = (await env.api(noKey)).url;
  viewer = await env.key(withKey, 'viewer');
});
afterAll(() => env.cleanup());
beforeEach(async () => {
  await env.sql('DELETE FROM alerts');
  await env.sql('DELETE FROM backups');
});

const deps = (services: Services, now: Date): OpsJobDeps & Pick<Services, 'blobs'> => ({
  pool: services.pool,
  blobs: services.blobs,
  redis: services.redis,
  queues: services.queues,
  flows: services.flows,
  config: services.config,
  logger: pino({ level: 'silent' }),
  now: () => now,
});
const at = (base: Date, hours: number) => new Date(base.getTime() + hours * HOUR);
const health = async (url: string) => {
  const res = await fetch(`${url}/v1/health`, authed(viewer));
  return { status: res.status, body: (await res.json()) as { status: string; components: Array<Record<string, any>> } };
};
const backupAlerts = async () => (await listAlerts(withKey.pool)).filter((a) => a.key.startsWith('backup.') || a.rule.startsWith('backup'));

describe('with BACKUP_ENCRYPTION_KEY set', () => {
  it('a fresh install is not critical and raises no alert before its first backup', async () => {
    const { status, body } = await health(urlWithKey);
    const age = body.components.find((c) => c.name === 'backup.age');
    expect(age).toMatchObject({
      status: 'ok',
      value: null,
      threshold: 26,
      unit: 'hours',
      message: expect.stringMatching(/^no verified backup yet; the first is due within 2\d\.\d h \(installed 0\.\d h ago\)$/),
    });
    expect(body.status).not.toBe('critical');
    expect(status).toBe(200);

    await runHealthCheck(deps(withKey, new Date()));
    expect(await backupAlerts()).toEqual([]);
  });

  it('gives the first backup ALERT_BACKUP_MAX_AGE_HOURS from the install, then calls it stale', async () => {
    const installed = (await installedAt(withKey.pool))!;
    expect(Math.abs(installed.getTime() - Date.now())).toBeLessThan(HOUR);

    expect(await probeBackups(deps(withKey, at(installed, 25.5)))).toMatchObject({ name: 'backup.age', status: 'ok', value: null });
    await runHealthCheck(deps(withKey, at(installed, 25.5)));
    expect(await backupAlerts()).toEqual([]);

    const late = await probeBackups(deps(withKey, at(installed, 27)));
    expect(late).toMatchObject({
      name: 'backup.age',
      status: 'critical',
      value: null,
      message: 'no verified backup in the 27.0 h since Lookout was installed',
    });
    await runHealthCheck(deps(withKey, at(installed, 27)));
    expect(await backupAlerts()).toEqual([expect.objectContaining({ rule: 'backup_stale', key: 'backup.age', severity: 'critical', status: 'firing' })]);
  });

  it('backups that worked and then stopped are stale once the newest verified one is older than the limit', async () => {
    const id = randomUUID();
    const finished = new Date(Date.now() - HOUR);
    await insertBackup(withKey.pool, { id, trigger: 'scheduler', actor: 'scheduler' });
    await env.sql(`UPDATE backups SET status = 'verified', finished_at = $2, verified_at = $2 WHERE id = $1`, [id, finished]);

    expect(await probeBackups(deps(withKey, at(finished, 10)))).toMatchObject({ status: 'ok', value: 10, message: 'newest verified backup is 10.0 h old' });
    await runHealthCheck(deps(withKey, at(finished, 10)));
    expect(await backupAlerts()).toEqual([]);

    expect(await probeBackups(deps(withKey, at(finished, 30)))).toMatchObject({ status: 'critical', value: 30 });
    await runHealthCheck(deps(withKey, at(finished, 30)));
    expect(await backupAlerts()).toEqual([expect.objectContaining({ rule: 'backup_stale', severity: 'critical', status: 'firing' })]);
    // A new verified backup resolves it.
    await env.sql(`UPDATE backups SET finished_at = $2 WHERE id = $1`, [id, at(finished, 29)]);
    await runHealthCheck(deps(withKey, at(finished, 30)));
    expect(await backupAlerts()).toEqual([expect.objectContaining({ rule: 'backup_stale', status: 'resolved' })]);
  });

  it('/v1/info says backups are on', async () => {
    const info = (await (await fetch(`${urlWithKey}/v1/info`, authed(viewer))).json()) as Record<string, any>;
    expect(info.backups).toEqual({ enabled: true, reason: null });
  });
});

describe('backups turned on for an install that ran without them', () => {
  it('gets the first backup the same time from when backups were turned on, then calls it stale', async () => {
    const older = await createTestEnv('first_run_later', { BACKUP_ENCRYPTION_KEY: KEY });
    try {
      const off = await older.open((c) => ({ ...c, backup: { ...c.backup, key: undefined } }));
      // Installed three days ago, run without a key since.
      await older.sql(`UPDATE lookout_migrations SET run_at = run_at - interval '72 hours'`);
      expect(await probeBackups(deps(off, new Date()))).toMatchObject({ name: 'backup.enabled', status: 'warn' });

      // The operator sets the key, as the warning says, and restarts.
      const on = await older.open();
      const now = new Date();
      expect(await probeBackups(deps(on, now))).toMatchObject({
        name: 'backup.age',
        status: 'ok',
        message: expect.stringMatching(/^no verified backup yet; the first is due within 2\d\.\d h \(turned on 0\.\d h ago\)$/),
      });
      await runHealthCheck(deps(on, now));
      expect((await listAlerts(on.pool)).filter((a) => a.rule === 'backup_stale')).toEqual([]);
      // Restarts keep the first time backups were seen on.
      const again = await older.open();
      expect(await probeBackups(deps(again, at(now, 25.5)))).toMatchObject({ status: 'ok' });

      const late = await probeBackups(deps(again, at(now, 27)));
      expect(late).toMatchObject({ status: 'critical', message: expect.stringMatching(/^no verified backup in the 27\.\d h since backups were turned on$/) });
      await runHealthCheck(deps(again, at(now, 27)));
      expect((await listAlerts(on.pool)).filter((a) => a.rule === 'backup_stale')).toEqual([
        expect.objectContaining({ severity: 'critical', status: 'firing' }),
      ]);
    } finally {
      await older.cleanup();
    }
  });
});

describe('without BACKUP_ENCRYPTION_KEY', () => {
  it('reports "backups are off" as a warning with its fix, first on the page, and never fires backup_stale', async () => {
    const { status, body } = await health(urlNoKey);
    expect(status).toBe(200);
    expect(body.components.find((c) => c.name === 'backup.age')).toBeUndefined();
    const off = body.components.find((c) => c.name === 'backup.enabled');
    expect(off).toMatchObject({ status: 'warn', value: 'off', threshold: 'on' });
    expect(off!.message).toMatch(/^backups are off: BACKUP_ENCRYPTION_KEY is not set; to turn them on, set it to a new key \(openssl rand -base64 32\)/);
    // Problems first: every warn or critical row before the first ok row.
    const rank = { critical: 0, warn: 1, ok: 2 } as Record<string, number>;
    const ranks = body.components.map((c) => rank[c.status]!);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(body.components[0]!.status).not.toBe('ok');

    for (const hours of [0, 27, 1000]) await runHealthCheck(deps(noKey, at(new Date(), hours)));
    expect(await backupAlerts()).toEqual([]);
  });

  it('/v1/info says backups are off and why, for the console; POST /v1/backups says the same', async () => {
    const info = (await (await fetch(`${urlNoKey}/v1/info`, authed(viewer))).json()) as Record<string, any>;
    expect(info.backups).toEqual({
      enabled: false,
      reason: expect.stringMatching(/^backups are off: BACKUP_ENCRYPTION_KEY is not set; .*openssl rand -base64 32/),
    });
    const refused = await fetch(`${urlNoKey}/v1/backups`, { method: 'POST', ...authed(await env.key(noKey, 'operator')) });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: { code: 'backups_disabled', message: info.backups.reason } });
  });

  it('config check warns on stderr, and only then', async () => {
    const { BACKUP_ENCRYPTION_KEY: _key, ...withoutKey } = env.env;
    const off = await runCli(['config', 'check'], { env: { ...withoutKey, BACKUP_ENCRYPTION_KEY: '' } });
    expect(off.code).toBe(0);
    expect(JSON.parse(off.stdout).backup.key).toBeNull();
    expect(off.stderr).toMatch(
      /^lookout config check: warning: backups are off: BACKUP_ENCRYPTION_KEY is not set; to turn them on, set it to a new key \(openssl rand -base64 32\)/m,
    );
    const on = await runCli(['config', 'check'], { env: env.env });
    expect(on.code).toBe(0);
    expect(on.stderr).not.toMatch(/backups are off/);
  });
});

describe('the probe list', () => {
  it('puts problems first and says counts in words', async () => {
    const check = await runProbes(deps(noKey, new Date()));
    const firstOk = check.components.findIndex((c) => c.status === 'ok');
    expect(check.components.slice(firstOk).every((c) => c.status === 'ok')).toBe(true);
    expect(check.components.find((c) => c.name === 'queue.detect.workers')?.message).toBe('0 live workers');
  });
});
