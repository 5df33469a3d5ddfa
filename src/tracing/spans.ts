// Lookout's own spans: one per job run (named for its job type, under
// BullMQ's `process <queue>` span) with what the handler knows about its
// work, and the detection stages as its children. Every function here does
// nothing when the process is not traced.
import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { lookoutTracer } from './tracer.js';

/** What inJobSpan reads of a BullMQ job. */
export interface TracedJob {
  name: string;
  id?: string | undefined;
  attemptsMade: number;
}

/**
 * Runs `run` inside a span named for the job (detect-image, finalize-batch …),
 * the active span while it runs, so handlers annotate it (annotateSpan) and
 * Postgres and Redis calls become its children. A throw is recorded on the
 * span (status error) and rethrown. Not traced: `run()` as it is.
 */
export function inJobSpan<T>(job: TracedJob, run: () => Promise<T>): Promise<T> {
  const tracer = lookoutTracer();
  if (!tracer) return run();
  const attributes: Attributes = { 'lookout.job.name': job.name, 'lookout.job.attempt': job.attemptsMade + 1 };
  if (job.id !== undefined) attributes['lookout.job.id'] = job.id;
  return tracer.startActiveSpan(job.name, { attributes }, async (span: Span) => {
    try {
      return await run();
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Sets attributes on the span running now (a job's, a request's); nothing when there is none. Never image bytes or secrets. */
export function annotateSpan(attributes: Attributes): void {
  const tracer = lookoutTracer();
  if (!tracer) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** One finished stage of work, timed with performance.now() (ms). */
export interface StageSpan {
  name: string;
  start: number;
  end: number;
  attributes?: Attributes;
}

/**
 * Records stages that have already run as children of the active span, each
 * with its own start and end (performance.now() values: the SDK reads them
 * against the process's time origin).
 */
export function recordStages(stages: readonly StageSpan[]): void {
  const tracer = lookoutTracer();
  if (!tracer) return;
  for (const stage of stages) {
    const span = tracer.startSpan(stage.name, { startTime: stage.start, ...(stage.attributes ? { attributes: stage.attributes } : {}) });
    span.end(Math.max(stage.start, stage.end));
  }
}
