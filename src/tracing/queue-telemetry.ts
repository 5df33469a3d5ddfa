// BullMQ's telemetry (bullmq-otel) with its housekeeping left out. Besides
// the spans of jobs (add, addFlow, process, complete), a BullMQ worker opens
// a span for each poll that finds no job and for each stalled-jobs check,
// every few seconds per worker, each the root of a trace of its own with its
// Redis calls under it: hundreds of traces an hour that belong to no job. A
// root INTERNAL span (BullMQ's bookkeeping kind; job spans are PRODUCER and
// CONSUMER) is started under a parent that is not sampled instead, so the
// SDK's default sampler (parentbased_always_on, or any parentbased_*) records
// neither it nor anything under it, at the cost of a non-recording span.
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import type { Telemetry } from 'bullmq';

/**
 * BullMQ's SpanKind.INTERNAL (the same number as OpenTelemetry's). Not
 * imported: this module loads before the CLI, and bullmq's value imports
 * would load ioredis before its instrumentation's hook is registered.
 */
const INTERNAL = 0;

/** A parent that is not sampled: what BullMQ's housekeeping spans start under. */
const UNSAMPLED: Context = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: randomBytes(16).toString('hex'),
  spanId: randomBytes(8).toString('hex'),
  traceFlags: TraceFlags.NONE,
  isRemote: false,
});

/** `telemetry` (bullmq-otel's) whose tracer starts BullMQ's root bookkeeping spans unsampled (above). */
export function withoutHousekeeping(telemetry: Telemetry<Context>): Telemetry<Context> {
  const tracer = telemetry.tracer;
  return {
    contextManager: telemetry.contextManager,
    ...(telemetry.meter ? { meter: telemetry.meter } : {}),
    tracer: {
      startSpan(name, options, parent) {
        const housekeeping = parent === undefined && (options?.kind as number | undefined) === INTERNAL && trace.getSpan(context.active()) === undefined;
        return tracer.startSpan(name, options, housekeeping ? UNSAMPLED : parent);
      },
    },
  };
}
