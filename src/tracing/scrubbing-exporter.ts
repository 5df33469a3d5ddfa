// The last look at spans before they leave the process. Instrumentations are
// set up to record no secret (no headers, Redis command names only; query
// strings are dropped here, as the http instrumentation records them), but text Lookout does not control still reaches spans: an
// error's message (a failed alert webhook names its URL, which is its own
// credential) becomes an exception event and BullMQ's failed-reason
// attribute. Every string of a span (attributes, event attributes, status
// message) is scrubbed of the configuration's secret values and of API key
// tokens.
import type { Attributes } from '@opentelemetry/api';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';

export type SpanExporter = NonNullable<NodeSDKConfiguration['traceExporter']>;
export type ExportedSpan = Parameters<SpanExporter['export']>[0][number];

export const REDACTED = '[redacted]';

/** An API key token (src/auth/api-key-tokens.ts): its public id stays, its secret goes. */
const API_KEY_TOKEN = /\b(lk_[0-9a-f]{8}_)[A-Za-z0-9_-]{43}\b/g;

/** `text` with every secret and every API key's secret replaced by [redacted]. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out.includes('lk_') ? out.replace(API_KEY_TOKEN, `$1${REDACTED}`) : out;
}

/** An attribute value (a string, a number, an array or a map of them) with its strings scrubbed; the same value when nothing changed. */
function scrubValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets));
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    scrubAttributes(value as Attributes, secrets);
  }
  return value;
}

/** Scrubs an attribute map in place (the SDK hands finished spans to the exporter and never reads them again). */
function scrubAttributes(attributes: Attributes | undefined, secrets: readonly string[]): void {
  if (!attributes) return;
  for (const [key, value] of Object.entries(attributes)) {
    const clean = scrubValue(value, secrets);
    if (clean !== value) attributes[key] = clean;
  }
}

/** Attributes of the http instrumentation that hold a URL's query (old and current semantic conventions). */
const URL_ATTRIBUTES = ['url.full', 'http.url', 'http.target'] as const;

/**
 * Removes query strings: the instrumentation records `url.query` (and the
 * query within `url.full`, `http.url`, `http.target`), and a query is the
 * client's text, which Lookout does not know to be free of secrets (a token
 * some proxy or script appends). Paths stay.
 */
function dropQueries(attributes: Attributes | undefined): void {
  if (!attributes) return;
  delete attributes['url.query'];
  for (const key of URL_ATTRIBUTES) {
    const value = attributes[key];
    if (typeof value === 'string' && value.includes('?')) attributes[key] = value.slice(0, value.indexOf('?'));
  }
}

/** The span, scrubbed in place (see the module header): queries dropped, secrets and API key secrets replaced. */
export function scrubSpan(span: ExportedSpan, secrets: readonly string[]): ExportedSpan {
  dropQueries(span.attributes);
  scrubAttributes(span.attributes, secrets);
  for (const event of span.events) scrubAttributes(event.attributes, secrets);
  if (span.status.message) (span.status as { message?: string }).message = scrubText(span.status.message, secrets);
  return span;
}

/** `inner` behind the scrubbing above. */
export function scrubbingExporter(inner: SpanExporter, secrets: readonly string[]): SpanExporter {
  return {
    export(spans, done) {
      inner.export(
        spans.map((s) => scrubSpan(s, secrets)),
        done,
      );
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
