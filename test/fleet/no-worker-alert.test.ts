// The fleet view and alerting on real services: a stopped detect worker shows
// missing; with jobs waiting, the no-worker alert fires exactly once (one
// signed webhook, one email), and restarting the worker resolves it (one
// more of each).
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHealthCheck } from '../../src/jobs/health-probe/handler.js';
import type { OpsJobDeps } from '../../src/jobs/ops-deps.js';
import { verifySignature } from '../../src/jobs/webhook/sign.js';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { startSmtpServer, startWebhookReceiver, until } from '../helpers/receivers.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const SECRET = 'test-webhook-secret-0123456789';
let env: TestEnv;
let services: Services;
let url: string;
let key: string;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let detect: WorkerChild | undefined;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  smtp = await startSmtpServer();
  env = await createTestEnv('alerts', {
    HEARTBEAT_MS: '300',
    ALERT_WEBHOOK_URL: hooks.url,
    ALERT_WEBHOOK_SECRET: SECRET,
    // The receiver is on loopback: alert webhooks go through the same address guard as batch ones.
    WEBHOOK_ALLOWED_HOSTS: new URL(hooks.url).host,
    ALERT_EMAIL_TO: 'oncall@example.test',
    ALERT_EMAIL_FROM: 'lookout@example.test',
    SMTP_URL: smtp.url,
  });
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services, { queues: ['batches', 'health', 'notify'] });
  key = await env.key(services, 'admin');
});
afterAll(async () => {
  await detect?.stop();
  await env.cleanup();
  await hooks.close();
  await smtp.close();
});

const opsDeps = (): OpsJobDeps & Pick<Services, 'blobs'> => ({
  pool: services.pool,
  redis: services.redis,
  queues: services.queues,
  blobs: services.blobs,
  flows: services.flows,
  config: services.config,
  logger: pino({ level: 'silent' }),
  now: () => new Date(),
});
const workers = async () => ((await (await fetch(`${url}/v1/workers`, authed(key))).json()) as { workers: Array<Record<string, any>> }).workers;
const noWorkerHooks = () => hooks.received.filter((h) => h.json.alert?.rule === 'queue_no_worker' && h.json.alert?.key === 'queue.detect.workers');
const noWorkerMails = () => smtp.mails.filter((m) => m.raw.includes('queue_no_worker queue.detect.workers'));

describe('a detect worker that stops while jobs wait', () => {
  it('shows missing, fires the no-worker alert once, and resolves when a worker is back', async () => {
    detect = await spawnWorker(env.env, ['--queues', 'detect', '--device', 'cpu']);
    const first = await until('the detect worker to be live', async () => (await workers()).find((w) => w.queues.includes('detect') && w.state === 'live'));
    expect(first).toMatchObject({ pid: detect.child.pid, device: 'cpu', version: '0.1.0', concurrency: 4 });

    expect(await detect.stop()).toBe(0);
    const gone = await until('the worker to show missing', async () => (await workers()).find((w) => w.id === first.id && w.state === 'missing'));
    expect(gone.stoppedAt).not.toBeNull();
    const table = await runCli(['workers', '--json'], { env: env.env });
    expect(jsonLines(table.stdout)[0]?.workers.find((w: any) => w.id === first.id)?.state).toBe('missing');

    const { body } = await submit(url, key, [{ name: 'camera.png', bytes: await readPhoto('camera.png') }]);
    await runHealthCheck(opsDeps());
    await runHealthCheck(opsDeps()); // still firing: no second notification
    await until('the firing webhook', () => noWorkerHooks().length === 1);
    await until('the firing email', () => noWorkerMails().length === 1);

    const [firing] = noWorkerHooks();
    expect(firing!.json).toMatchObject({
      event: 'firing',
      alert: { severity: 'critical', status: 'firing', message: expect.stringMatching(/no live worker consumes detect, 1 jobs waiting/) },
    });
    expect(firing!.headers['x-lookout-event']).toBe('alert.firing');
    expect(verifySignature(SECRET, String(firing!.headers['x-lookout-timestamp']), firing!.body, String(firing!.headers['x-lookout-signature']))).toBe(true);
    expect(
      verifySignature(
        'another-secret-0123456789',
        String(firing!.headers['x-lookout-timestamp']),
        firing!.body,
        String(firing!.headers['x-lookout-signature']),
      ),
    ).toBe(false);
    expect(noWorkerMails()[0]!.to).toEqual(['oncall@example.test']);
    expect(noWorkerMails()[0]!.raw).toMatch(/Subject: \[Lookout\] FIRING: queue_no_worker queue.detect.workers \(critical\)/);

    detect = await spawnWorker(env.env, ['--queues', 'detect', '--device', 'cpu']);
    expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
    await runHealthCheck(opsDeps());
    await until('the resolved webhook', () => noWorkerHooks().length === 2);
    await until('the resolved email', () => noWorkerMails().length === 2);
    expect(noWorkerHooks()[1]!.json).toMatchObject({ event: 'resolved', alert: { status: 'resolved' } });
    expect(noWorkerMails()[1]!.raw).toMatch(/Subject: \[Lookout\] RESOLVED/);

    await runHealthCheck(opsDeps());
    await new Promise((r) => setTimeout(r, 500));
    expect(noWorkerHooks()).toHaveLength(2); // nothing more once resolved

    const alerts = ((await (await fetch(`${url}/v1/alerts?status=resolved`, authed(key))).json()) as { alerts: Array<Record<string, any>> }).alerts;
    expect(alerts.find((a) => a.rule === 'queue_no_worker')).toMatchObject({ status: 'resolved', notifications: 2 });
  });

  it('silencing an alert is audited', async () => {
    const [alert] = ((await (await fetch(`${url}/v1/alerts`, authed(key))).json()) as { alerts: Array<Record<string, any>> }).alerts;
    const res = await fetch(`${url}/v1/alerts/${alert!.id}/silence`, {
      method: 'POST',
      headers: { ...authed(key).headers, 'content-type': 'application/json' },
      body: JSON.stringify({ minutes: 30 }),
    });
    expect(res.status).toBe(200);
    const audit = await env.sql(`SELECT actor, action, details->>'minutes' AS minutes FROM audit_log WHERE target = $1 ORDER BY id`, [`alert:${alert!.id}`]);
    // The alert's own events are on record too, before the silence.
    expect(audit.at(-1)).toEqual({ actor: expect.stringMatching(/^key:/), action: 'alert.silence', minutes: '30' });
    expect(
      audit
        .slice(0, -1)
        .map((a) => a.action)
        .every((a) => /^alert\.(firing|repeat|resolved)$/.test(String(a))),
    ).toBe(true);
  });
});
