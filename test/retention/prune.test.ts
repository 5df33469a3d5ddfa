// Retention on the filesystem store: `lookout prune --older-than DAYS` as a
// real process over real photos, a real API and a real worker (batches older
// than DAYS go, a blob a newer batch shares stays, the summary and progress
// lines, the argument checks), prune() in chunks with its progress, and the
// daily job (RETENTION_DAYS) running the same prune. `--older-than 0` with
// its dry run and the orphan sweep, on both stores, is prune-stores.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prune, type PruneProgress } from '../../src/retention/prune.js';
import { reconcile } from '../../src/producers/reconcile.js';
import { RETENTION_CRON, RETENTION_SCHEDULER_ID } from '../../src/producers/schedules.js';
import { syncSchedules } from '../../src/producers/schedule-keeper.js';
import type { Services } from '../../src/runtime/services.js';
import { formatBytes } from '../../src/text/format.js';
import { readPhoto } from '../helpers/photos.js';
import { until } from '../helpers/receivers.js';
import { runCli } from '../helpers/run-cli.js';
import { createTestEnv, fsBlobDir, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let key: string;

beforeAll(async () => {
  env = await createTestEnv('prune');
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  key = await env.key(services, 'submitter');
});
afterAll(() => env?.cleanup());

const HOUR = 3600_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const photo = async (name: string) => {
  const bytes = await readPhoto(name);
  return { name, bytes, key: sha(bytes), size: bytes.length };
};

async function finishedBatch(names: string[]): Promise<string> {
  const files = await Promise.all(names.map(readPhoto));
  const { status, body } = await submit(
    url,
    key,
    names.map((name, i) => ({ name, bytes: files[i]! })),
  );
  expect(status).toBe(202);
  expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
  return body.id as string;
}

/** A blob no row references, written into the store's layout, last written `ageMs` ago (the filesystem's part). */
async function orphan(ageMs: number): Promise<{ key: string; size: number }> {
  const bytes = randomBytes(1000 + Math.floor(Math.random() * 1000));
  const k = sha(bytes);
  const file = path.join(fsBlobDir(env.config), k.slice(0, 2), k.slice(2, 4), k);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  const at = new Date(Date.now() - ageMs);
  await utimes(file, at, at);
  return { key: k, size: bytes.length };
}

const count = async (sql: string, params: unknown[] = []) => (await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params))[0]!.n;
const has = (k: string) => services.blobs.has(k);
const pruneAudits = () =>
  env.sql<{ actor: string; outcome: string; details: Record<string, any> }>(
    `SELECT actor, outcome, details FROM audit_log WHERE action = 'retention.prune' ORDER BY id`,
  );

describe('lookout prune --older-than DAYS', () => {
  it('deletes only batches finished more than DAYS ago; a blob a newer batch shares stays; prints a summary', async () => {
    const [coffee, motorcycle, chelsea] = await Promise.all(['coffee.png', 'motorcycle_left.png', 'chelsea.png'].map(photo));
    const old = await finishedBatch(['chelsea.png', 'coffee.png']);
    const newer = await finishedBatch(['coffee.png', 'motorcycle_left.png']);
    await env.sql(`UPDATE batches SET finished_at = now() - interval '3 days' WHERE id = $1`, [old]);
    await env.sql(`UPDATE batches SET finished_at = now() - interval '1 day' WHERE id = $1`, [newer]);
    await finishedBatch(['coffee.png']); // finished just now: kept by every run here, and keeps coffee

    const dry = await runCli(['prune', '--older-than', '2', '--dry-run'], { env: env.env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(`would delete 1 batch, 2 images, 1 blob (${formatBytes(chelsea!.size)}); nothing deleted (--dry-run)\n`);

    const run = await runCli(['prune', '--older-than', '2'], { env: env.env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`deleted 1 batch, 2 images, 1 blob (${formatBytes(chelsea!.size)})\n`);
    // Progress on stderr (not a terminal here: cli-progress's lines), never on stdout.
    expect(run.stderr).toMatch(/^prune batches \[.*\] 1\/1 batches \| 2 images, 1 blob/m);
    expect(await count('batches WHERE id = $1', [old])).toBe(0);
    expect(await count('batches WHERE id = $1', [newer])).toBe(1);
    expect(await has(chelsea!.key)).toBe(false);
    expect(await has(coffee!.key)).toBe(true);
    expect(await has(motorcycle!.key)).toBe(true);

    // Half a day is a number of days too.
    const half = await runCli(['prune', '--older-than', '0.5', '--json'], { env: env.env });
    expect(JSON.parse(half.stdout)).toMatchObject({ batches: 1, images: 2, blobs: 1, bytes: motorcycle!.size });
  });

  it.each([['-1'], ['abc'], ['1e3'], ['']])('refuses --older-than %j with exit 2, deleting nothing', async (value) => {
    await env.sql(`UPDATE batches SET finished_at = now() - interval '10 days' WHERE status = 'completed'`);
    const before = await count('batches');
    const cli = await runCli(['prune', '--older-than', value, '--json'], { env: env.env });
    expect(cli.code).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(/--older-than.*expected a number of days, 0 or more/);
    expect(await count('batches')).toBe(before);
  });

  it('refuses a missing --older-than and a bad RETENTION_DAYS with exit 2', async () => {
    const missing = await runCli(['prune', '--json'], { env: env.env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--older-than/);
    const bad = await runCli(['prune', '--older-than', '1'], { env: { ...env.env, RETENTION_DAYS: 'forever' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/RETENTION_DAYS: expected a number of days, 0 or more/);
  });
});

describe('prune() over a BlobStore', () => {
  it('deletes in chunks, reporting progress after each, with the counts of its dry run', async () => {
    await prune({ pool: services.pool, blobs: services.blobs, logger: env.logger, now: () => new Date() }, { olderThanDays: 0, actor: 'cli' });
    const ids = [];
    for (const names of [['astronaut.png'], ['camera.png'], ['chelsea.png', 'coffee.png']]) ids.push(await finishedBatch(names));
    const deps = { pool: services.pool, blobs: services.blobs, logger: env.logger, now: () => new Date() };
    const dry = await prune(deps, { olderThanDays: 0, actor: 'cli', dryRun: true });
    const progress: PruneProgress[] = [];
    const report = await prune(deps, { olderThanDays: 0, actor: 'cli', chunk: { batches: 1 }, onProgress: (p) => progress.push(p) });
    expect(report).toMatchObject({ batches: 3, images: 4, blobs: 4 });
    expect({ batches: report.batches, images: report.images, blobs: report.blobs, bytes: report.bytes }).toEqual({
      batches: dry.batches,
      images: dry.images,
      blobs: dry.blobs,
      bytes: dry.bytes,
    });
    expect(progress.filter((p) => p.phase === 'batches').map((p) => [p.batches, p.batchesTotal])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    await expect(prune(deps, { olderThanDays: -1, actor: 'cli' })).rejects.toThrow(/days >= 0/);
  });
});

describe('the daily retention-prune job (RETENTION_DAYS)', () => {
  it('is scheduled from the setting, runs the same prune as the scheduler, and is removed when unset', async () => {
    const scheduled = await env.open((c) => ({ ...c, retention: { days: 1 } }));
    const backup = scheduled.queues.get('backup')!;
    await syncSchedules(scheduled, ['backup']);
    await syncSchedules(scheduled, ['backup']); // idempotent
    const schedulers = await backup.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.pattern, s.name])).toEqual([[RETENTION_SCHEDULER_ID, RETENTION_CRON, 'retention-prune']]);
    expect(schedulers[0]!.template?.data).toEqual({ actor: 'scheduler', olderThanDays: 1 });

    const [camera] = await Promise.all(['camera.png'].map(photo));
    const old = await finishedBatch(['camera.png']);
    const recent = await finishedBatch(['coffee.png']);
    await env.sql(`UPDATE batches SET finished_at = now() - interval '2 days' WHERE id = $1`, [old]);
    const stray = await orphan(3 * HOUR);

    // The scheduler's next run, brought forward, on a real ops worker.
    const next = (await backup.getDelayed()).find((j) => j.name === 'retention-prune');
    expect(next).toBeDefined();
    await env.worker(scheduled, { queues: ['backup'], concurrency: 1 });
    await next!.promote();
    const done = await until(
      'the retention-prune job',
      async () => {
        const job = await backup.getJob(next!.id!);
        return job?.finishedOn ? job : undefined;
      },
      30_000,
    );
    expect(done.failedReason).toBeUndefined();
    expect(done.returnvalue).toMatchObject({ batches: 1, images: 1, blobs: 2, bytes: camera!.size + stray.size, olderThanDays: 1, dryRun: false });
    expect(done.progress).toMatchObject({ phase: 'orphans' });
    expect(await count('batches WHERE id = $1', [old])).toBe(0);
    expect(await count('batches WHERE id = $1', [recent])).toBe(1);
    expect(await has(camera!.key)).toBe(false);
    expect(await has(stray.key)).toBe(false);
    expect((await pruneAudits()).at(-1)).toMatchObject({ actor: 'scheduler', outcome: 'ok', details: { batches: 1, images: 1, blobs: 2 } });

    // A Redis that lost it (and its jobs) gets it back from the reconciler.
    await syncSchedules(scheduled, ['health']); // the others the reconciler expects, there
    await done.remove();
    await backup.removeJobScheduler(RETENTION_SCHEDULER_ID);
    const repaired = await reconcile({ ...scheduled, logger: env.logger }, {});
    expect(repaired.restoredSchedulers).toBe(1);
    expect((await backup.getJobScheduler(RETENTION_SCHEDULER_ID))?.pattern).toBe(RETENTION_CRON);

    const unset = await env.open((c) => ({ ...c, retention: { days: undefined } }));
    await syncSchedules(unset, ['backup']);
    expect(await backup.getJobSchedulers()).toEqual([]);
  });
});
