// The HTTP client `lookout submit` talks to a Lookout server with: one method
// per route it uses, every answer parsed with a zod schema before use (a
// server of another version may answer differently), every error answer
// turned into an ApiCallError carrying the server's {code, message}.

import { z } from 'zod';
import type { SubmitConfig } from './submit-config.js';
import { FileChangedError } from './submit-multipart-stream.js';
import {
  batchResultsSchema as wireBatchResults,
  batchViewSchema as wireBatchView,
  detectionSchema as wireDetection,
  imageModelSchema,
  imageResultSchema,
  submittedBatchSchema,
  type SubmittedBatch,
} from '../wire/batches.js';
import { infoLimitsSchema, infoSchema } from '../wire/info.js';

// The answers are parsed with schemas derived from the ones the server
// describes them with (src/wire): a server of another version may add fields,
// so the client requires only what it reads.
const serverInfoSchema = infoSchema.pick({ version: true, defaultModel: true, models: true }).extend({
  // The upload is split by these: a zero would never fit.
  limits: z.object({
    maxFiles: infoLimitsSchema.shape.maxFiles.positive(),
    maxRequestBytes: infoLimitsSchema.shape.maxRequestBytes.positive(),
    maxFileBytes: infoLimitsSchema.shape.maxFileBytes.positive(),
    maxPixels: infoLimitsSchema.shape.maxPixels.positive(),
  }),
});
export type ServerInfo = z.infer<typeof serverInfoSchema>;

export type { SubmittedBatch } from '../wire/batches.js';
export { isFinished, type BatchStatus } from '../wire/batch-status.js';

const batchViewSchema = wireBatchView.pick({ id: true, status: true, progress: true });
export type BatchView = z.infer<typeof batchViewSchema>;

// Detections pass through untouched (keypoints, a model's extra fields): only
// what the summary reads is required.
const detectionSchema = wireDetection.pick({ label: true, score: true }).loose();
export type ResultDetection = z.infer<typeof detectionSchema>;

const batchResultsSchema = wireBatchResults.extend({
  images: z.array(
    imageResultSchema.omit({ sha256: true }).extend({
      // The model file that answered (name, version, sha256), as lookout detect prints it.
      model: imageModelSchema.optional(),
      detections: z.array(detectionSchema),
    }),
  ),
});
export type BatchResults = z.infer<typeof batchResultsSchema>;
export type ResultImage = BatchResults['images'][number];

const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** The server answered with an error: its HTTP status and {code, message}. */
export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from Retry-After (429). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** No answer at all: connection refused, DNS, reset. */
export class ServerUnreachableError extends Error {
  override readonly name = 'ServerUnreachableError';
}

export interface UploadBody {
  contentType: string;
  contentLength: number;
  stream: ReadableStream<Uint8Array>;
}

export interface LookoutClient {
  readonly url: string;
  info(signal?: AbortSignal): Promise<ServerInfo>;
  submitBatch(body: UploadBody, signal?: AbortSignal): Promise<SubmittedBatch>;
  /** POST /v1/batches with a JSON body: images by reference (s3://BUCKET/KEY), model and minScore. */
  submitReferences(body: { images: Array<{ url: string }>; model?: string; minScore?: number }, signal?: AbortSignal): Promise<SubmittedBatch>;
  batch(id: string, signal?: AbortSignal): Promise<BatchView>;
  results(id: string, signal?: AbortSignal): Promise<BatchResults>;
  /** GET /v1/images/:id/annotated.png as a byte stream. */
  annotated(id: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

function describeFetchFailure(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

async function errorFrom(res: Response): Promise<ApiCallError> {
  const retryAfter = Number(res.headers.get('retry-after'));
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const parsed = errorBodySchema.safeParse(body);
  if (parsed.success) return new ApiCallError(res.status, parsed.data.error.code, parsed.data.error.message, retryAfterS);
  return new ApiCallError(res.status, `http_${res.status}`, `${res.statusText || 'error'}${text ? `: ${text.slice(0, 200)}` : ''}`, retryAfterS);
}

/** How the client came to try this URL, so a refused connection says what to change. */
function whereFrom(config: SubmitConfig): string {
  if (config.urlSource === 'LOOKOUT_URL') return 'is LOOKOUT_URL right?';
  const how =
    config.urlSource === 'PORT' ? 'LOOKOUT_URL is not set, so PORT on this host was tried' : 'LOOKOUT_URL and PORT are not set, so the default was tried';
  return `${how}: is the server running there? Set LOOKOUT_URL to reach another one.`;
}

export function createLookoutClient(config: SubmitConfig, fetchImpl: typeof fetch = fetch): LookoutClient {
  const authorization = `Bearer ${config.apiKey}`;

  async function send(route: string, init: RequestInit & { duplex?: 'half' }): Promise<Response> {
    let res: Response;
    try {
      res = await fetchImpl(`${config.url}${route}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization } });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof FileChangedError) throw cause; // the body failed, not the network
      throw new ServerUnreachableError(`cannot reach ${config.url} (${describeFetchFailure(err)}); ${whereFrom(config)}`);
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  async function json<T>(route: string, schema: z.ZodType<T>, init: RequestInit & { duplex?: 'half' }): Promise<T> {
    const res = await send(route, init);
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      throw new ApiCallError(
        res.status,
        'unexpected_answer',
        `${init.method ?? 'GET'} ${route} answered in an unexpected shape (a server of another version?)`,
      );
    }
    return parsed.data;
  }

  return {
    url: config.url,
    info: (signal) => json('/v1/info', serverInfoSchema, { signal: signal ?? null }),
    submitBatch: (body, signal) =>
      json('/v1/batches', submittedBatchSchema, {
        method: 'POST',
        body: body.stream,
        // A streamed request body; the exact length is still declared so the
        // server can refuse an oversized request before reading it.
        duplex: 'half',
        headers: { 'content-type': body.contentType, 'content-length': String(body.contentLength) },
        signal: signal ?? null,
      }),
    submitReferences: (body, signal) =>
      json('/v1/batches', submittedBatchSchema, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        signal: signal ?? null,
      }),
    batch: (id, signal) => json(`/v1/batches/${encodeURIComponent(id)}`, batchViewSchema, { signal: signal ?? null }),
    results: (id, signal) => json(`/v1/batches/${encodeURIComponent(id)}/results`, batchResultsSchema, { signal: signal ?? null }),
    async annotated(id, signal) {
      const res = await send(`/v1/images/${encodeURIComponent(id)}/annotated.png`, { signal: signal ?? null });
      if (!res.body) throw new ApiCallError(res.status, 'unexpected_answer', `image ${id}: empty annotated.png answer`);
      return res.body;
    },
  };
}
