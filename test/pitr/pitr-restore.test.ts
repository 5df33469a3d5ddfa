// Point-in-time recovery end to end (issue 20), on a cluster of the test's
// own archiving through pgBackRest (cipher on): a base backup through the
// pitr queue; batch A; T; batch B; `lookout pitr restore --to T --port N`
// gives a cluster holding A with its detections and not B. `pitr status`
// shows archiving with no failure, /v1/health the archiving component, and
// a drill records RPO and RTO and leaves no scratch cluster behind. The
// repository's cipher pass appears nowhere Lookout writes.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openServices, type Services } from '../../src/runtime/services.js';
import { prepareDatabase } from '../../src/runtime/prepare-database.js';
import { startWorkerProcess, type RunningWorkerProcess } from '../../src/workers/worker-process.js';
import { PITR_QUEUE } from '../../src/jobs/pitr-backup/definition.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { EXPECTED_FACES, readPhoto } from '../helpers/photos.js';
import { startPitrCluster, type PitrCluster } from '../helpers/pitr-cluster.js';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/run-cli.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';
import { startApi } from '../../src/api/server.js';
import { createApiKey } from '../../src/auth/api-keys.js';

let cluster: PitrCluster;
let env: TestEnv;
let services: Services;
let worker: RunningWorkerProcess | undefined;
let api: { close(): Promise<void>; port: number } | undefined;
let url: string;
let key: string;
const logs = captureLogger('info');
const scratch: string[] = [];

const cli = (args: string[]) => runCli(['pitr', ...args], { env: env.env });
const drillDirs = async () => (await readdir(os.tmpdir())).filter((n) => n.startsWith('lookout-pitr-drill-'));

beforeAll(async () => {
  cluster = await startPitrCluster({ archiveTimeoutSeconds: 5 });
  env = await createTestEnv('pitr', { PGBACKREST_CONFIG: cluster.configFile, PGBACKREST_STANZA: cluster.stanza }, { adminDatabaseUrl: cluster.adminUrl });
  services = openServices(env.config, logs.logger);
  await prepareDatabase(services);
  worker = await startWorkerProcess(services, { queues: ['detect', 'batches', PITR_QUEUE], concurrency: 2 });
  api = await startApi(services, 0);
  url = `http://127.0.0.1:${api.port}`;
  key = (await createApiKey(services.pool, { name: 'pitr-test', role: 'admin', actor: 'test' })).token;
}, 120_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  // What the pitr worker saw, for whoever reads a failure.
  const jobs = await services.queues.get(PITR_QUEUE)!.getJobs(['failed', 'active', 'delayed', 'waiting']);
  for (const j of jobs) console.error(`pitr job ${j.id} (${j.name}): attempts ${j.attemptsMade}, ${j.failedReason ?? 'no failure'}`);
  for (const l of logs.lines.slice(-20)) console.error(JSON.stringify(l));
});

afterAll(async () => {
  await api?.close().catch(() => undefined);
  await worker?.close(5000).catch(() => undefined);
  await services?.close().catch(() => undefined);
  await env?.cleanup().catch(() => undefined);
  await cluster?.destroy();
  for (const d of scratch) await rm(d, { recursive: true, force: true });
}, 120_000);

async function submitAndWait(photos: string[]): Promise<string> {
  const files = await Promise.all(photos.map(async (name) => ({ name, bytes: await readPhoto(name) })));
  const res = await submit(url, key, files);
  expect(res.status).toBe(202);
  const batch = await waitForBatch(url, key, res.body.id as string, 120_000);
  expect(batch.status).toBe('completed');
  return res.body.id as string;
}

describe('point-in-time recovery through pgBackRest', () => {
  let batchA: string;
  let batchB: string;
  let target: Date;
  let database: string;

  it('takes a base backup through the pitr queue, catalogued (kind pitr) and audited', async () => {
    const res = await cli(['backup', '--type', 'full', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['bytes', 'finishedAt', 'id', 'label', 'startedAt', 'status', 'type']);
    expect(out).toMatchObject({ status: 'succeeded', type: 'full', label: expect.stringMatching(/^\d{8}-\d{6}F$/) });
    expect(out.bytes).toBeGreaterThan(0);
    const [row] = await env.sql<{ kind: string; status: string; label: string }>('SELECT kind, status, label FROM backups WHERE id = $1', [out.id]);
    expect(row).toEqual({ kind: 'pitr', status: 'succeeded', label: out.label });
    const audit = await env.sql<{ outcome: string }>(`SELECT outcome FROM audit_log WHERE action = 'pitr.backup' AND target = $1`, [
      `backup:${String(out.id)}`,
    ]);
    expect(audit).toEqual([{ outcome: 'ok' }]);
  }, 180_000);

  it('restores to T: batch A with its detections, not batch B', async () => {
    batchA = await submitAndWait(['astronaut.png', 'camera.png', 'coffee.png']);
    const facesA = (
      await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM detections d JOIN images i ON i.id = d.image_id WHERE i.batch_id = $1', [batchA])
    )[0]!.n;
    expect(facesA).toBe(EXPECTED_FACES['astronaut.png']! + EXPECTED_FACES['camera.png']!);
    await new Promise((r) => setTimeout(r, 1500));
    target = new Date();
    await new Promise((r) => setTimeout(r, 1500));
    batchB = await submitAndWait(['chelsea.png']);
    await cluster.switchAndWaitArchived();

    const parent = await mkdtemp(path.join(os.tmpdir(), 'lookout-pitr-restored-'));
    scratch.push(parent);
    await chmod(parent, 0o755); // the postgres OS user, who restores and runs the copy, goes through it
    const dataDir = path.join(parent, 'data');
    cluster.track(dataDir);
    const port = await freePort();
    const res = await cli(['restore', '--to', target.toISOString(), '--pg-data', dataDir, '--port', String(port), '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const out = JSON.parse(res.stdout) as { dataDir: string; port: number; recoveredTo: string };
    expect(Object.keys(out).sort()).toEqual(['dataDir', 'port', 'recoveredTo']);
    expect(out).toMatchObject({ dataDir, port });
    expect(new Date(out.recoveredTo).getTime()).toBeLessThanOrEqual(target.getTime());

    database = new URL(env.env.DATABASE_URL!).pathname.slice(1);
    const restored = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database });
    await restored.connect();
    try {
      const batches = (await restored.query<{ id: string }>('SELECT id FROM batches ORDER BY created_at')).rows.map((r) => r.id);
      expect(batches).toContain(batchA);
      expect(batches).not.toContain(batchB);
      const detections = await restored.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM detections d JOIN images i ON i.id = d.image_id WHERE i.batch_id = $1',
        [batchA],
      );
      expect(detections.rows[0]!.n).toBe(facesA);
      const images = await restored.query<{ status: string }>('SELECT status FROM images WHERE batch_id = $1', [batchA]);
      expect(images.rows.map((r) => r.status)).toEqual(['done', 'done', 'done']);
      // A bystander: archiving off, so it can never push into the live stanza.
      expect((await restored.query<{ archive_mode: string }>('SHOW archive_mode')).rows[0]!.archive_mode).toBe('off');
      expect((await restored.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(false);
    } finally {
      await restored.end();
    }
    // The live cluster is untouched: batch B is still there.
    expect(await env.sql('SELECT id FROM batches WHERE id = $1', [batchB])).toHaveLength(1);
  }, 240_000);

  it('refuses a non-empty directory and a time outside the recovery window, naming the window', async () => {
    const full = await mkdtemp(path.join(os.tmpdir(), 'lookout-pitr-full-'));
    scratch.push(full);
    await writeFile(path.join(full, 'keep.txt'), 'mine');
    const nonEmpty = await cli(['restore', '--to', target.toISOString(), '--pg-data', full, '--json']);
    expect(nonEmpty.code).toBe(1);
    expect(JSON.parse(nonEmpty.stdout)).toMatchObject({ status: 'refused', error: expect.stringContaining('is not empty') });
    expect(await readdir(full)).toEqual(['keep.txt']);

    const fresh = path.join(full, 'fresh');
    const later = await cli(['restore', '--to', new Date(Date.now() + 3600_000).toISOString(), '--pg-data', fresh, '--json']);
    expect(later.code).toBe(1);
    const refused = JSON.parse(later.stdout) as { status: string; error: string };
    expect(refused.status).toBe('refused');
    expect(refused.error).toMatch(/is outside the recovery window, from \d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    const before = await cli(['restore', '--to', '2001-01-01T00:00:00Z', '--pg-data', fresh, '--json']);
    expect(before.code).toBe(1);
    expect(existsSync(fresh)).toBe(false);

    const noZone = await cli(['restore', '--to', '2026-01-01T00:00:00', '--pg-data', fresh]);
    expect(noZone.code).toBe(2);
  }, 120_000);

  it('pitr status: archiving with no failure, the backups and the recovery window', async () => {
    const res = await cli(['status', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const status = JSON.parse(res.stdout) as Record<string, any>;
    expect(status.stanza).toBe('lookout');
    expect(status.archiving).toMatchObject({ failedCount: 0, lastArchivedWal: expect.stringMatching(/^[0-9A-F]{24}$/), mode: 'on' });
    expect(new Date(status.archiving.lastArchivedAt as string).getTime()).toBeGreaterThan(target.getTime());
    expect(typeof status.archiving.lagSeconds).toBe('number');
    expect(status.backups).toHaveLength(1);
    expect(status.backups[0]).toMatchObject({ type: 'full', label: expect.stringMatching(/F$/) });
    expect(Date.parse(status.recoveryWindow.from as string)).toBeLessThan(target.getTime());
    expect(Date.parse(status.recoveryWindow.to as string)).toBeGreaterThan(target.getTime());
  }, 60_000);

  it("pitr status from a host without pgBackRest: archiving from Postgres alone, the catalogue's backups, no window", async () => {
    const res = await runCli(['pitr', 'status', '--json'], { env: { ...env.env, PGBACKREST_CONFIG: '' } });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('PGBACKREST_CONFIG is not set here');
    const status = JSON.parse(res.stdout) as Record<string, any>;
    expect(status.archiving).toMatchObject({ failedCount: 0, mode: 'on', lastArchivedWal: expect.stringMatching(/^[0-9A-F]{24}$/) });
    expect(status.backups).toEqual([expect.objectContaining({ type: 'full', label: expect.stringMatching(/F$/) })]);
    expect(status.recoveryWindow).toBeNull();
  });

  it('/v1/health shows the archiving component, ok', async () => {
    const res = await fetch(`${url}/v1/health`, authed(key));
    const body = (await res.json()) as { components: Array<Record<string, unknown>> };
    const archiving = body.components.find((c) => c.name === 'postgres.archiving');
    expect(archiving).toMatchObject({
      status: 'ok',
      unit: 'seconds',
      message: expect.stringMatching(/^last archived [0-9A-F]{24} .* ago; 0 failed \(pg_stat_archiver\) since/),
    });
  });

  it('a drill records RPO and RTO on the backup it restored, and leaves no scratch cluster', async () => {
    const before = await drillDirs();
    const res = await cli(['drill', '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const drill = JSON.parse(res.stdout) as Record<string, any>;
    expect(drill).toMatchObject({ status: 'verified', label: expect.stringMatching(/F$/) });
    expect(drill.rtoSeconds).toBeGreaterThan(0);
    expect(drill.rpoSeconds).toBeGreaterThanOrEqual(0);
    expect(drill.rpoSeconds).toBeLessThan(120);
    expect(drill.indexesChecked).toBeGreaterThan(5);
    expect(drill.rowCounts.batches).toBe(2);
    const [row] = await env.sql<Record<string, any>>(
      `SELECT status, rpo_seconds, rto_seconds, recovered_to, verified_at FROM backups WHERE kind = 'pitr' AND label = $1`,
      [drill.label],
    );
    expect(row).toMatchObject({ status: 'verified', rpo_seconds: drill.rpoSeconds, rto_seconds: drill.rtoSeconds });
    expect(row!.verified_at).toBeInstanceOf(Date);
    // Gone: its directory, and any server running from it.
    expect(await drillDirs()).toEqual(before);
    const { stdout: ps } = await import('node:child_process').then(({ execFileSync }) => ({ stdout: execFileSync('ps', ['-eo', 'args']).toString() }));
    expect(ps).not.toMatch(/lookout-pitr-drill-/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^lookout_pitr_drill_rto_seconds ${drill.rtoSeconds}$`, 'm'));
    expect(metrics).toMatch(/^lookout_pitr_drill_rpo_seconds [\d.]+$/m);
  }, 240_000);

  it("keeps the repository's cipher pass out of logs, jobs, the catalogue and the audit trail", async () => {
    const pass = cluster.cipherPass;
    expect(JSON.stringify(logs.lines)).not.toContain(pass);
    const queue = services.queues.get(PITR_QUEUE)!;
    const jobs = await queue.getJobs(['completed', 'failed']);
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(jobs.map((j) => [j.data, j.returnvalue, j.failedReason]))).not.toContain(pass);
    expect(JSON.stringify(await env.sql('SELECT * FROM backups'))).not.toContain(pass);
    expect(JSON.stringify(await env.sql('SELECT * FROM audit_log'))).not.toContain(pass);
  });
});
