// OpenTelemetry for a server process (`lookout all`, `api`, `worker`): the
// Node SDK with the http, express, pg and ioredis instrumentations, an OTLP
// exporter over HTTP (protobuf or JSON), and BullMQ's telemetry for the
// queues. Started by bin/lookout.js before the CLI is imported: under ESM an
// instrumentation patches only what is imported after its hook is registered
// (module.register of @opentelemetry/instrumentation/hook.mjs, the SDK's
// documented way). Without an endpoint, or with OTEL_SDK_DISABLED=true,
// nothing of the SDK is loaded at all.
//
// What never reaches a span: request and response headers (the http
// instrumentation records none unless asked), query parameters of the
// Postgres statements (enhancedDatabaseReporting stays off: the statement
// text only, with its $1 placeholders), Redis arguments (the command name
// only: job data, rate-limit keys), image bytes (nothing records a body), and
// whatever secret value still slips into a message (scrubbing-exporter.ts).
import { register } from 'node:module';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/config.js';
import { secretValues } from '../config/mask-secrets.js';
import { WEBHOOK_USER_AGENT } from '../security/webhook-user-agent.js';
import { withoutHousekeeping } from './queue-telemetry.js';
import { scrubbingExporter, type SpanExporter } from './scrubbing-exporter.js';
import { clearTracing, setTracing } from './tracer.js';

/** The commands that run a server process, and only those, are traced. */
export const TRACED_COMMANDS: readonly string[] = ['all', 'api', 'worker'];

/**
 * The modules the instrumentations patch. The ESM hook wraps only these
 * (import-in-the-middle's include list): wrapping every module of the
 * process, Lookout's own included, would cost start-up time for nothing.
 */
export const INSTRUMENTED_MODULES: readonly string[] = ['http', 'https', 'express', 'pg', 'pg-pool', 'ioredis'];

/** Probes and scrapes: answered every few seconds, traced never (they would bury the traces worth reading). */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

let shutdown: (() => Promise<void>) | undefined;

/**
 * Starts tracing as `config.tracing` says; nothing (and nothing loaded) when
 * it is off. Call it once, before anything that opens a connection or a
 * server is imported.
 * @param env the environment, for the AWS secrets scrubbed from spans (not part of the configuration)
 */
export async function startTracing(config: Config, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  if (!config.tracing.enabled || shutdown) return false;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: [...INSTRUMENTED_MODULES] } });
  const [
    { NodeSDK },
    { HttpInstrumentation },
    { ExpressInstrumentation, ExpressLayerType },
    { PgInstrumentation },
    { IORedisInstrumentation },
    { BullMQOtel },
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-express'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('bullmq-otel'),
  ]);
  const sdk = new NodeSDK({
    serviceName: config.tracing.serviceName,
    traceExporter: scrubbingExporter(await otlpExporter(config.tracing.protocol), secretValues(config, env)),
    // Traces only: metrics are Prometheus's (/metrics), logs are the JSON lines.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?', 1)[0] ?? ''),
        // Webhooks go to other parties: no span naming their URL (an alert webhook's is a credential), no traceparent sent to them.
        ignoreOutgoingRequestHook: (req) => headerValue(req.headers, 'user-agent') === WEBHOOK_USER_AGENT,
      }),
      // The route handler's span, and http.route on the request's. Not one span per middleware (helmet, cors, json …)
      // or per router passed through: they would outnumber the work (the request's path is still read from them).
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER] }),
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true, enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  sdk.start();
  setTracing(withoutHousekeeping(new BullMQOtel('bullmq')));
  shutdown = async () => {
    clearTracing();
    await sdk.shutdown();
  };
  return true;
}

/** Exports what is left and stops tracing; nothing when tracing never started. Never throws. */
export async function shutdownTracing(): Promise<void> {
  const stop = shutdown;
  shutdown = undefined;
  await stop?.().catch(() => undefined);
}

/**
 * bin/lookout.js's first step: tracing for a server command (`all`, `api`,
 * `worker`) when its environment asks for it. A configuration that does not
 * parse starts nothing (the command itself then reports it); tracing that
 * fails to start is said on stderr and the command runs untraced.
 */
export async function startTracingFor(argv: readonly string[], env: Record<string, string | undefined> = process.env): Promise<boolean> {
  if (!TRACED_COMMANDS.includes(argv[0] ?? '')) return false;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return false;
  let config: Config;
  try {
    config = loadConfig(env);
  } catch {
    return false;
  }
  try {
    return await startTracing(config, env);
  } catch (err) {
    // The service matters more than its traces: it runs untraced, saying why.
    process.stderr.write(`lookout: tracing not started: ${err instanceof Error ? err.message : String(err)}\n`);
    return false;
  }
}

/** The OTLP/HTTP exporter of the protocol; it reads its endpoint, headers, timeout and compression from OTEL_EXPORTER_OTLP_*. */
async function otlpExporter(protocol: Config['tracing']['protocol']): Promise<SpanExporter> {
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() === name) return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}
