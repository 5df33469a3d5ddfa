// Tracing end to end: `lookout all` as a real process (bin/lookout.js starts
// the SDK before the CLI loads, as in production), exporting OTLP/HTTP to a
// receiver of the test's own on 127.0.0.1. One batch gives one trace: the
// POST request, every detect-image run with its stages, the finalize-batch
// run; Postgres, Redis and express spans in it show the instrumentations
// really patched their ESM-imported modules. Nothing secret in any export,
// nothing sent with OTEL_SDK_DISABLED=true, and http/protobuf works too.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../src/bench/otlp-receiver.js';
import { readPhoto } from '../helpers/photos.js';
import { until } from '../helpers/receivers.js';
import { jsonLines } from '../helpers/run-cli.js';
import { spawnLookoutAll, type AllChild } from '../helpers/spawn-all.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const SERVER = 2;
const STAGES = ['decode', 'preprocess', 'inference', 'postprocess'];
const DB_PASSWORD = `tracepw-${randomBytes(6).toString('hex')}`;

let env: TestEnv;
let receiver: OtlpReceiver;
let key: string;
let all: AllChild | undefined;

beforeAll(async () => {
  env = await createTestEnv('tracing');
  key = await env.key(await env.open(), 'submitter');
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await all?.stop();
  all = undefined;
  receiver.reset();
});
afterAll(async () => {
  await receiver?.close();
  await env?.cleanup();
});

/** `lookout all` exporting to the receiver (spans sent 0.2 s after they end), its database URL carrying a password (trust auth: never checked). */
function startTraced(extra: Record<string, string> = {}): Promise<AllChild> {
  const dbUrl = new URL(env.env.DATABASE_URL!);
  dbUrl.username = 'postgres';
  dbUrl.password = DB_PASSWORD;
  return spawnLookoutAll({
    ...env.env,
    DATABASE_URL: dbUrl.toString(),
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    ...extra,
  });
}

const attr = (span: ReceivedSpan, name: string): unknown => span.attributes[name];

describe('a traced batch', () => {
  it('is one trace: the POST, every detect-image run with its stage spans and attributes, the finalize-batch run', async () => {
    all = await startTraced();
    const files = [
      { name: 'astronaut.png', bytes: await readPhoto('astronaut.png') },
      { name: 'camera.png', bytes: await readPhoto('camera.png') },
    ];
    const { status, body } = await submit(all.url, key, files);
    expect(status).toBe(202);
    const batchId = body.id as string;
    const imageIds = (body.images as Array<{ id: string }>).map((i) => i.id);
    expect((await waitForBatch(all.url, key, batchId)).status).toBe('completed');

    const finalize = await until('the finalize-batch span', () =>
      receiver.spans.find((s) => s.name === 'finalize-batch' && attr(s, 'lookout.batch.id') === batchId),
    );
    const trace = receiver.spans.filter((s) => s.traceId === finalize.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));

    const post = trace.find((s) => s.kind === SERVER && attr(s, 'http.request.method') === 'POST' && attr(s, 'http.route') === '/v1/batches');
    expect(post, 'the POST /v1/batches span is in the trace').toBeDefined();
    expect(post!.parentSpanId).toBeUndefined();
    expect(attr(post!, 'http.response.status_code')).toBe(202);
    expect(post!.service).toBe('lookout');

    const detects = trace.filter((s) => s.name === 'detect-image');
    expect(detects.map((s) => attr(s, 'lookout.image.id')).sort()).toEqual([...imageIds].sort());
    for (const detect of detects) {
      expect(attr(detect, 'lookout.batch.id')).toBe(batchId);
      expect(attr(detect, 'lookout.model.name')).toBe('blazeface-back');
      expect(attr(detect, 'lookout.device')).toBe('cpu');
      const children = trace.filter((s) => s.parentSpanId === detect.spanId);
      for (const stage of STAGES) {
        const span = children.find((s) => s.name === stage);
        expect(span, `${stage} under ${String(attr(detect, 'lookout.image.id'))}`).toBeDefined();
        expect(span!.endNs >= span!.startNs).toBe(true);
        // Inside their detect-image span.
        expect(span!.startNs >= detect.startNs && span!.endNs <= detect.endNs).toBe(true);
      }
      const duration = (name: string) => Number(children.find((s) => s.name === name)!.endNs - children.find((s) => s.name === name)!.startNs) / 1e6;
      expect(duration('preprocess')).toBeGreaterThan(0.1);
      expect(duration('inference')).toBeGreaterThan(0.1);
      expect(
        attr(
          children.find((s) => s.name === 'inference')!,
          'lookout.inference.share_ms',
        ),
      ).toBeGreaterThan(0);
      // Under BullMQ's consumer span, which continues the producer's: the chain reaches the POST.
      let up: ReceivedSpan | undefined = detect;
      while (up?.parentSpanId) up = byId.get(up.parentSpanId);
      expect(up?.spanId).toBe(post!.spanId);
    }
    expect(attr(finalize, 'lookout.batch.status')).toBe('completed');

    // Under ESM, each instrumentation patched its module: Postgres, Redis, express and BullMQ spans in the same trace.
    const scopes = new Set(trace.map((s) => s.scope));
    for (const scope of [
      '@opentelemetry/instrumentation-http',
      '@opentelemetry/instrumentation-express',
      '@opentelemetry/instrumentation-pg',
      '@opentelemetry/instrumentation-ioredis',
      'bullmq',
      'lookout',
    ]) {
      expect(scopes, scope).toContain(scope);
    }
    // Postgres statements keep their placeholders and carry no parameters.
    const pg = trace.filter((s) => s.scope === '@opentelemetry/instrumentation-pg');
    expect(pg.some((s) => String(attr(s, 'db.query.text')).includes('$1'))).toBe(true);
    expect(pg.some((s) => Object.keys(s.attributes).some((k) => k.includes('parameters') || k.includes('values')))).toBe(false);

    // The request's log line is joined to its trace.
    const line = jsonLines(all.output()).find((l) => l.msg === 'POST /v1/batches 202');
    expect(line).toMatchObject({ trace_id: post!.traceId, span_id: post!.spanId, route: '/v1/batches', statusCode: 202 });

    // No secret and no image bytes in what was exported: not the key, not the database password, no header, no bytes value.
    const exported = receiver.exports.map((e) => e.body ?? '').join('\n');
    expect(exported).not.toContain(key.slice(12));
    expect(exported).not.toContain(DB_PASSWORD);
    expect(exported.toLowerCase()).not.toContain('authorization');
    expect(exported).not.toContain('bytesValue');
    expect(exported).not.toContain(files[0]!.bytes.subarray(0, 48).toString('base64'));
    // Every export went to the traces endpoint: no metrics, no logs.
    expect(new Set(receiver.exports.map((e) => e.path))).toEqual(new Set(['/v1/traces']));
  });

  it('sends nothing with OTEL_SDK_DISABLED=true, and its log lines carry no trace ids', async () => {
    all = await startTraced({ OTEL_SDK_DISABLED: 'true' });
    const { body } = await submit(all.url, key, [{ name: 'camera.png', bytes: await readPhoto('camera.png') }]);
    expect((await waitForBatch(all.url, key, body.id as string)).status).toBe('completed');
    await new Promise((r) => setTimeout(r, 1000)); // five export intervals
    await all.stop();
    expect(receiver.exports).toEqual([]);
    const lines = jsonLines(all.output());
    expect(lines.find((l) => l.msg === 'POST /v1/batches 202')).toBeDefined();
    expect(lines.some((l) => 'trace_id' in l)).toBe(false);
  });

  it('exports http/protobuf as well, and flushes on SIGTERM; with LOG_FILE the lines, trace ids included, go to the file', async () => {
    const logFile = path.join(env.env.BLOB_DIR!, 'logs', 'lookout.log');
    all = await startTraced({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_SCHEDULE_DELAY: '60000', LOG_FILE: logFile });
    expect((await fetch(`${all.url}/v1/batches`, authed(key))).status).toBe(200);
    // Nothing goes before the minute is up but what shutdown sends.
    expect(receiver.exports).toEqual([]);
    expect(await all.stop()).toBe(0);
    expect(receiver.exports.length).toBeGreaterThan(0);
    expect(receiver.exports.every((e) => e.path === '/v1/traces' && e.contentType === 'application/x-protobuf' && e.bytes > 0)).toBe(true);

    // The file (daily rotation by default: lookout.1.log) holds the process's lines to the last, written as it exited.
    expect(all.output()).not.toContain('"msg"');
    const lines = jsonLines(await readFile(path.join(path.dirname(logFile), 'lookout.1.log'), 'utf8'));
    expect(lines.find((l) => l.msg === 'GET /v1/batches 200')).toMatchObject({
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
  });
});
