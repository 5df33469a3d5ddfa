// Whether this process is traced, and the two things its parts trace with:
// the tracer of Lookout's own spans and BullMQ's telemetry (bullmq-otel).
// Set once by startTracing (start-tracing.ts) before the CLI loads; while it
// is unset, every helper of this folder does nothing and costs nothing.
import { trace, type Tracer } from '@opentelemetry/api';
import type { Telemetry } from 'bullmq';

/** The instrumentation scope of Lookout's own spans (jobs, detection stages). */
export const LOOKOUT_TRACER = 'lookout';

let current: { tracer: Tracer; telemetry: Telemetry } | undefined;

/** Called by startTracing once the SDK is registered. */
export function setTracing(telemetry: Telemetry): void {
  current = { tracer: trace.getTracer(LOOKOUT_TRACER), telemetry };
}

/** Called by shutdownTracing: spans made from now on are not recorded. */
export function clearTracing(): void {
  current = undefined;
}

/** The tracer of Lookout's spans, or undefined when the process is not traced. */
export function lookoutTracer(): Tracer | undefined {
  return current?.tracer;
}

/**
 * BullMQ's `telemetry` option for a Queue, Worker or FlowProducer: `{ telemetry }`
 * when the process is traced (jobs then carry their producer's trace context
 * and their runs become its children), `{}` when not. Spread it into every
 * constructor's options (test/architecture/queue-telemetry.test.ts checks).
 */
export function queueTelemetry(): { telemetry?: Telemetry } {
  return current ? { telemetry: current.telemetry } : {};
}
