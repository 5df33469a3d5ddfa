// Under ESM an instrumentation patches a module only if it sees it load.
// require-in-the-middle sees CommonJS require() calls alone: ioredis and
// express imported from an ES module, with nothing requiring them first, are
// missed unless the loader hook (import-in-the-middle, registered by
// startTracing) is in place. A fresh Node process imports each of them with
// import() right after startTracing, uses them inside a span, and the
// receiver must get the pg, ioredis, express and http spans. (Lookout's own
// process is instrumented by either path today: bullmq and bull-board happen
// to require() them; this keeps it so whatever loads first.)
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../../src/bench/otlp-receiver.js';
import { until } from '../helpers/receivers.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { ADMIN_DATABASE_URL, REDIS_URL } from '../helpers/test-env.js';

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

const dist = (file: string) => JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist', file)).href);

/** An ES module: tracing started as bin/lookout.js starts it, then each instrumented package imported with import() and used inside a span. */
const SCRIPT = `
const { loadConfig } = await import(${dist('config/config.js')});
const { startTracing, shutdownTracing } = await import(${dist('tracing/start-tracing.js')});
if (!(await startTracing(loadConfig(process.env)))) throw new Error('tracing did not start');
const { default: express } = await import('express');
const { Redis } = await import('ioredis');
const { default: pg } = await import('pg');
const { trace } = await import('@opentelemetry/api');
const redis = new Redis(process.env.REDIS_URL);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const app = express();
app.get('/things/:id', async (_req, res) => {
  await pool.query('SELECT $1::int AS one', [1]);
  await redis.ping();
  res.json({ ok: true });
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const res = await fetch('http://127.0.0.1:' + server.address().port + '/things/7');
if (res.status !== 200) throw new Error('status ' + res.status);
await trace.getTracer('esm-test').startActiveSpan('outside a request', async (span) => {
  await pool.query('SELECT 2');
  await redis.ping();
  span.end();
});
server.close();
await pool.end();
redis.disconnect();
await shutdownTracing();
`;

describe('instrumentation under ESM', () => {
  it('patches ioredis, express, pg and http imported with import() from an ES module', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        REDIS_URL,
        DATABASE_URL: ADMIN_DATABASE_URL,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, output).toBe(0);
    await until('the exported spans', () => (receiver.spans.length > 0 ? true : undefined), 5000);

    const scopes = (name: string) => receiver.spans.filter((s) => s.scope === `@opentelemetry/instrumentation-${name}`);
    const request = scopes('http').find((s) => s.attributes['http.route'] === '/things/:id');
    expect(request, 'the server span, its route set by the express instrumentation').toBeDefined();
    expect(scopes('express').some((s) => s.traceId === request!.traceId)).toBe(true);
    for (const name of ['pg', 'ioredis']) {
      const spans = scopes(name);
      expect(
        spans.some((s) => s.traceId === request!.traceId),
        `${name} inside the request`,
      ).toBe(true);
      expect(
        spans.some((s) => s.traceId !== request!.traceId),
        `${name} inside the script's own span`,
      ).toBe(true);
    }
  });
});
