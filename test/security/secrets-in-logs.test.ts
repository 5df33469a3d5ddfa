// Every secret set, a whole day's work done (a batch with a webhook, a
// backup, an alert by webhook and email, refused requests, config check),
// all output of `lookout all` at trace level, every answer and every span it
// exported (tracing on, OTLP JSON to a receiver of the test's) scanned: no
// secret value appears anywhere.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../../src/bench/otlp-receiver.js';
import { readPhoto } from '../helpers/photos.js';
import { startWebhookReceiver, until } from '../helpers/receivers.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const SECRETS = {
  dbPassword: `dbpw-${randomBytes(6).toString('hex')}`,
  backupKey: randomBytes(32).toString('base64'),
  alertSecret: `alert-secret-${randomBytes(8).toString('hex')}`,
  batchSecret: `batch-secret-${randomBytes(8).toString('hex')}`,
  smtpPassword: `smtp-pw-${randomBytes(6).toString('hex')}`,
};

let env: TestEnv;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let traces: OtlpReceiver;
let smtp: SMTPServer;
const mails: string[] = [];
let output = '';

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  traces = await startOtlpReceiver();
  smtp = new SMTPServer({
    hideSTARTTLS: true,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    onData(stream, _session, callback) {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d.toString()));
      stream.on('end', () => {
        mails.push(raw);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  env = await createTestEnv('secrets');
});
afterAll(async () => {
  await env.cleanup();
  await hooks.close();
  await traces.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

describe('secrets', () => {
  it('never appear in logs, answers or notifications', async () => {
    const dbUrl = new URL(env.env.DATABASE_URL!);
    dbUrl.username = 'postgres';
    dbUrl.password = SECRETS.dbPassword; // trust auth here: accepted, never needed
    const port = 3100 + Math.floor(Math.random() * 800);
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    const childEnv: Record<string, string> = {
      ...env.env,
      DATABASE_URL: dbUrl.toString(),
      PORT: String(port),
      LOG_LEVEL: 'trace',
      LOG_FORMAT: 'json',
      BACKUP_ENCRYPTION_KEY: SECRETS.backupKey,
      BACKUP_SCHEDULES: 'true',
      HEALTH_INTERVAL: '1',
      // Some alert must fire for the webhook and email to carry one: the disks
      // are never 100 % free. (A fresh install's backup is no longer one.)
      ALERT_DISK_MIN_FREE_PERCENT: '100',
      ALERT_WEBHOOK_URL: hooks.url,
      ALERT_WEBHOOK_SECRET: SECRETS.alertSecret,
      BATCH_WEBHOOK_SECRET: SECRETS.batchSecret,
      WEBHOOK_ALLOWED_HOSTS: new URL(hooks.url).host,
      ALERT_EMAIL_TO: 'ops@example.test',
      SMTP_URL: `smtp://lookout:${SECRETS.smtpPassword}@127.0.0.1:${smtpPort}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: traces.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    const all = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lookout.js'), 'all'], {
      env: { ...process.env, ...childEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    all.stdout.on('data', (d: Buffer) => (output += d.toString()));
    all.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    const answers: string[] = [];
    const keep = async (res: Response) => {
      const text = await res.text();
      answers.push(JSON.stringify([...res.headers]), text);
      return text;
    };
    try {
      await until(
        'lookout all',
        () =>
          fetch(`${url}/readyz`).then(
            (r) => (r.ok ? true : undefined),
            () => undefined,
          ),
        60_000,
      );
      const created = await runCli(['keys', 'create', '--name', 'scan', '--role', 'admin'], { env: childEnv });
      output += created.stderr;
      const key = created.stdout.trim();

      const { body } = await submit(url, key, [{ name: 'astronaut.png', bytes: await readPhoto('astronaut.png') }], { webhookUrl: hooks.url });
      await waitForBatch(url, key, body.id);
      await keep(await fetch(`${url}/v1/batches/${body.id}/results`, { headers: { authorization: `Bearer ${key}` } }));
      const backup = await runCli(['backup', 'run', '--json'], { env: childEnv });
      output += backup.stdout + backup.stderr;
      expect(backup.code).toBe(0);
      // The disk alert fires on the first probes: by webhook and email.
      await until('an alert email', () => (mails.length > 0 ? true : undefined), 30_000);
      await until('the batch webhook', () => hooks.received.find((h) => h.json.event === 'batch.finished'));
      for (const bad of ['lk_00000000_nope', `Bearer ${SECRETS.alertSecret}`]) {
        await keep(await fetch(`${url}/v1/workers`, { headers: { authorization: `Bearer ${bad}` } }));
      }
      await keep(await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${key}` } }));
      await keep(await fetch(`${url}/metrics`));
      await keep(await fetch(`${url}/readyz`));
      const check = await runCli(['config', 'check'], { env: childEnv });
      output += check.stdout + check.stderr;
      expect(check.stdout).toContain('********');
    } finally {
      all.kill('SIGTERM');
      await new Promise((r) => all.once('exit', r));
    }

    // The logs saw all that work (so the scan below looked at something).
    for (const line of ['"msg":"model loaded"', '"msg":"api listening"', 'alert firing', '"msg":"backup schedules synced"', '"msg":"stopped"']) {
      expect(output).toContain(line);
    }
    // The spans saw it too: the batch's detect-image runs, the backup, the webhooks' jobs. Webhook receivers get no trace context.
    for (const name of ['detect-image', 'backup-run', 'webhook', 'alert']) expect(traces.spans.map((sp) => sp.name)).toContain(name);
    expect(hooks.received.some((h) => 'traceparent' in h.headers)).toBe(false);
    const everything = [
      output,
      ...answers,
      ...mails,
      ...hooks.received.map((h) => JSON.stringify(h.headers) + h.body),
      ...traces.exports.map((e) => e.body ?? ''),
    ].join('\n');
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(everything.includes(value), `${name} leaked`).toBe(false);
      expect(everything.includes(encodeURIComponent(value)), `${name} leaked (URL-encoded)`).toBe(false);
    }
  }, 120_000);
});
