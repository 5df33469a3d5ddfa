// Tracing's configuration: the standard OTEL_* variables only, off without an
// endpoint or with OTEL_SDK_DISABLED=true, bad values named at start (a
// password in the endpoint masked); and what leaves the process scrubbed of
// the configuration's secrets.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { maskSecrets, secretValues } from '../../src/config/mask-secrets.js';
import { REDACTED, scrubSpan, scrubText, type ExportedSpan } from '../../src/tracing/scrubbing-exporter.js';
import { startTracingFor } from '../../src/tracing/start-tracing.js';
import { lookoutTracer, queueTelemetry } from '../../src/tracing/tracer.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
  }
  return [];
}

describe('tracing configuration', () => {
  it('is off without an endpoint, on with one, off again with OTEL_SDK_DISABLED=true', () => {
    expect(loadConfig({}).tracing).toEqual({ enabled: false, endpoint: undefined, protocol: 'http/protobuf', serviceName: 'lookout' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toEqual({
      enabled: true,
      endpoint: 'http://collector:4318',
      protocol: 'http/protobuf',
      serviceName: 'lookout',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' }).tracing.enabled).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' }).tracing.enabled).toBe(true);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing.enabled).toBe(false);
    expect(loadConfig({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=eu,service.name=lookout%20eu' }).tracing.serviceName).toBe('lookout eu');
    const traces = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/v1/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'lookout-eu',
    }).tracing;
    expect(traces).toEqual({ enabled: true, endpoint: 'https://b/v1/traces', protocol: 'http/json', serviceName: 'lookout-eu' });
  });

  it('names bad values: an endpoint that is no http(s) URL, gRPC (no exporter shipped), an unknown sampler, a ratio out of range', () => {
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })[0]).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/);
    expect(problems({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })[0]).toMatch(/^OTEL_EXPORTER_OTLP_PROTOCOL: expected http\/protobuf or http\/json/);
    expect(problems({ OTEL_TRACES_SAMPLER: 'sometimes' })[0]).toMatch(/^OTEL_TRACES_SAMPLER: expected always_on/);
    expect(problems({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })[0]).toMatch(/^OTEL_TRACES_SAMPLER_ARG/);
    expect(problems({ OTEL_SDK_DISABLED: 'yes please' })[0]).toMatch(/^OTEL_SDK_DISABLED: expected true or false/);
    expect(problems({ OTEL_TRACES_EXPORTER: 'zipkin' })[0]).toMatch(/^OTEL_TRACES_EXPORTER: expected otlp or none/);
  });

  it('never shows an endpoint password: masked in errors and in the effective configuration', () => {
    const password = `otlp-${randomBytes(6).toString('hex')}`;
    const bad = problems({ OTEL_EXPORTER_OTLP_ENDPOINT: `ftp://u:${password}@collector` }).join('\n');
    expect(bad).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(bad).not.toContain(password);
    const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `https://u:${password}@collector` });
    expect(JSON.stringify(maskSecrets(config))).not.toContain(password);
    expect(secretValues(config)).toContain(password);
  });

  it('starts nothing for a command that is not a server, without an endpoint, or with a configuration that does not parse', async () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' };
    expect(await startTracingFor(['keys', 'list'], endpoint)).toBe(false);
    expect(await startTracingFor(['all'], {})).toBe(false);
    expect(await startTracingFor(['worker'], { ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(await startTracingFor(['api'], { ...endpoint, PORT: 'eighty' })).toBe(false);
    expect(lookoutTracer()).toBeUndefined();
    expect(queueTelemetry()).toEqual({});
  });
});

describe('what leaves the process', () => {
  const secrets = secretValues(
    loadConfig({
      DATABASE_URL: 'postgres://app:db-p%40ssword@db/lookout',
      ALERT_WEBHOOK_URL: 'https://hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXX',
      ALERT_WEBHOOK_SECRET: 'alert-secret-0123456789',
      BATCH_WEBHOOK_SECRET: 'batch-secret-0123456789',
    }),
    { AWS_SECRET_ACCESS_KEY: 'aws-secret-abcdef' },
  );

  it('knows the secrets of a configuration: URL passwords as written and decoded, webhook URL and secrets, AWS keys', () => {
    expect(secrets).toEqual(
      expect.arrayContaining([
        'db-p%40ssword',
        'db-p@ssword',
        'https://hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXX',
        'alert-secret-0123456789',
        'batch-secret-0123456789',
        'aws-secret-abcdef',
      ]),
    );
  });

  it('scrubs them, and API key secrets, from attributes, events and the status message of every span', () => {
    const token = `lk_0123abcd_${'A'.repeat(43)}`;
    const span = {
      attributes: {
        'bullmq.job.failed.reason': 'webhook https://hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXX answered 500',
        'db.query.text': 'SELECT 1',
        list: ['password db-p@ssword', 3],
        'lookout.detections.count': 2,
      },
      events: [{ name: 'exception', attributes: { 'exception.message': `rejected ${token} from aws-secret-abcdef` }, time: [0, 0] }],
      status: { code: 2, message: 'signed with batch-secret-0123456789' },
    } as unknown as ExportedSpan;
    scrubSpan(span, secrets);
    expect(span.attributes).toEqual({
      'bullmq.job.failed.reason': `webhook ${REDACTED} answered 500`,
      'db.query.text': 'SELECT 1',
      list: [`password ${REDACTED}`, 3],
      'lookout.detections.count': 2,
    });
    expect(span.events[0]!.attributes).toEqual({ 'exception.message': `rejected lk_0123abcd_${REDACTED} from ${REDACTED}` });
    expect(span.status.message).toBe(`signed with ${REDACTED}`);
    expect(scrubText('nothing to see', secrets)).toBe('nothing to see');
  });

  it('drops query strings: url.query, and the query of url.full, http.url and http.target (paths stay)', () => {
    const span = {
      attributes: {
        'url.path': '/v1/images',
        'url.query': 'q=cat&token=opaque-secret',
        'url.full': 'http://127.0.0.1:3000/v1/images?q=cat&token=opaque-secret',
        'http.url': 'http://127.0.0.1:3000/v1/images?token=opaque-secret',
        'http.target': '/v1/images?token=opaque-secret',
        'http.route': '/v1/images',
      },
      events: [],
      status: { code: 0 },
    } as unknown as ExportedSpan;
    scrubSpan(span, secrets);
    expect(span.attributes).toEqual({
      'url.path': '/v1/images',
      'url.full': 'http://127.0.0.1:3000/v1/images',
      'http.url': 'http://127.0.0.1:3000/v1/images',
      'http.target': '/v1/images',
      'http.route': '/v1/images',
    });
  });
});
