// A broken archive_command on a cluster of the test's own (issue 20): the
// postgres.archiving health component and the wal_archiving alert go
// critical and name the cause; both resolve once it is fixed. Before, with
// archiving working, neither says anything; on a server that does not
// archive at all ("off"), both stay quiet.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHealthCheck } from '../../src/jobs/health-probe/handler.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import type { Services } from '../../src/runtime/services.js';
import { startPitrCluster, type PitrCluster } from '../helpers/pitr-cluster.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let cluster: PitrCluster;
let env: TestEnv;
let services: Services;
let url: string;
let key: string;

beforeAll(async () => {
  cluster = await startPitrCluster({ archiveTimeoutSeconds: 2 });
  env = await createTestEnv('pitr_alert', { PGBACKREST_CONFIG: cluster.configFile, PGBACKREST_STANZA: cluster.stanza }, { adminDatabaseUrl: cluster.adminUrl });
  services = await env.open();
  url = (await env.api(services)).url;
  key = await env.key(services, 'operator');
}, 120_000);

afterAll(async () => {
  await env?.cleanup().catch(() => undefined);
  await cluster?.destroy();
}, 60_000);

const check = () =>
  runHealthCheck({
    pool: services.pool,
    redis: services.redis,
    queues: services.queues,
    blobs: services.blobs,
    config: services.config,
    logger: pino({ level: 'silent' }),
    now: () => new Date(),
  });

async function archivingComponent(): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${url}/v1/health`, authed(key));
  const body = (await res.json()) as { components: Array<Record<string, unknown>> };
  return body.components.find((c) => c.name === 'postgres.archiving');
}

const archivingAlerts = async () => (await listAlerts(services.pool)).filter((a) => a.rule === 'wal_archiving');

/** Writes a little WAL and switches segments, so the archiver has a segment to try. */
async function writeAndSwitch(): Promise<void> {
  await cluster.query('CREATE TABLE IF NOT EXISTS churn (x int); INSERT INTO churn SELECT generate_series(1, 100)');
  await cluster.query('SELECT pg_switch_wal()');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('postgres.archiving and the wal_archiving alert', () => {
  it('archiving through pgBackRest: ok, no alert', async () => {
    await cluster.switchAndWaitArchived();
    await check();
    expect(await archivingComponent()).toMatchObject({
      status: 'ok',
      message: expect.stringMatching(/^last archived [0-9A-F]{24} .*; 0 failed \(pg_stat_archiver\) since/),
    });
    expect(await archivingAlerts()).toEqual([]);
  });

  it('a wrong archive_command: critical, naming the command and the stanza it names; the alert fires with the same words', async () => {
    const wrong = cluster.archiveCommand.replace(`--stanza=${cluster.stanza}`, '--stanza=wrong');
    await cluster.query(`ALTER SYSTEM SET archive_command = '${wrong}'`);
    await cluster.query('SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 500));
    await writeAndSwitch();
    await waitFor('an archive failure', async () => {
      const [a] = await cluster.query<{ failed: number }>('SELECT failed_count::int AS failed FROM pg_stat_archiver');
      return a!.failed > 0 ? true : undefined;
    });
    await check();
    const component = await archivingComponent();
    expect(component).toMatchObject({ status: 'critical' });
    const cause =
      /^WAL archiving fails: archive_command ".*--stanza=wrong archive-push %p" \(it names stanza "wrong"; PGBACKREST_STANZA is "lookout"\) failed for [0-9A-F]{24} .*; \d+ segments? waiting \(the server log has the command.s own error\)$/;
    expect(component!.message).toMatch(cause);
    const alerts = await archivingAlerts();
    expect(alerts).toEqual([
      expect.objectContaining({ key: 'postgres.archiving', severity: 'critical', status: 'firing', message: expect.stringMatching(cause) }),
    ]);
  }, 90_000);

  it('fixed: the component is ok again and the alert resolves', async () => {
    await cluster.query('ALTER SYSTEM RESET archive_command');
    await cluster.query('SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 500));
    await writeAndSwitch();
    await waitFor('archiving to recover', async () => {
      const [a] = await cluster.query<{ ok: boolean }>('SELECT last_archived_time > coalesce(last_failed_time, to_timestamp(0)) AS ok FROM pg_stat_archiver');
      return a!.ok ? true : undefined;
    });
    await cluster.switchAndWaitArchived();
    await check();
    expect(await archivingComponent()).toMatchObject({ status: 'ok' });
    expect(await archivingAlerts()).toEqual([expect.objectContaining({ key: 'postgres.archiving', status: 'resolved' })]);
  }, 120_000);
});
