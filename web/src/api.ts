// The console's client for /v1: every call carries the signed-in key; errors
// arrive as {"error": {"code", "message"}} and become ApiError.

// The answers' types are the server's own (src/wire): the schemas /openapi.json
// is built from, with dates as the ISO strings JSON carries. Types only: no
// schema library in the bundle.
// Runtime values come only from zod-free modules (roles.ts, batch-status.ts, status-lists.ts).
import type { SubmittedBatch } from '../../src/wire/batches.js';

export { ROLES, roleAtLeast as atLeast, type Role } from '../../src/wire/roles.js';
export type { Me, Info } from '../../src/wire/info.js';
export type { BatchList, BatchListItem, BatchView, DeletedBatch, BatchResults, Detection, ImageResult, Progress } from '../../src/wire/batches.js';
export type { Alert, AlertList, HealthCheck, SilenceBody, SilencedAlert, WorkerList, WorkerView } from '../../src/wire/fleet.js';
export type { AlertStatus, BackupStatus, HealthStatus } from '../../src/wire/status-lists.js';
export type { BackupList, BackupStarted, BackupView } from '../../src/wire/backups.js';
export type { CreatedKey, KeyList, KeyView, NewKey, RevokedKey } from '../../src/wire/keys.js';
export type { GlobalConcurrencyBody, GlobalConcurrencyResult, QueueAction, QueueControlResult, QueueList, QueueView } from '../../src/wire/queues.js';
export { isFinished, type BatchStatus, type ImageStatus } from '../../src/wire/batch-status.js';
export type { Stats } from '../../src/wire/stats.js';
export type { ImageList, ImageListItem, RetryImagesBody, RetryImagesResult, RetrySkipReason } from '../../src/wire/images.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function errorFrom(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    return new ApiError(res.status, body.error?.code ?? 'error', body.error?.message ?? res.statusText);
  } catch {
    return new ApiError(res.status, 'error', `${res.status} ${res.statusText}`);
  }
}

/** The file name a Content-Disposition header gives (RFC 6266: `filename*` first), or undefined. */
function filenameOf(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim());
    } catch {
      // A malformed escape: fall back to the plain name.
    }
  }
  return /filename\s*=\s*"?([^";]+)"?/i.exec(header)?.[1]?.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Client {
  constructor(
    readonly key: string,
    /** Called when the server refuses the key (revoked or expired mid-session). */
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  private async refused(res: Response): Promise<ApiError> {
    const err = await errorFrom(res);
    if (err.status === 401) this.onUnauthorized();
    return err;
  }

  /**
   * A GET that waits out the per-key rate limit (429 + Retry-After, up to
   * three times): a grid of previews can pass RATE_LIMIT_PER_MINUTE.
   */
  private async fetchGet(path: string): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(path, { headers: this.headers() });
      if (res.status !== 429 || attempt >= 3) return res;
      const wait = Math.min(60, Math.max(1, Number(res.headers.get('retry-after')) || 5));
      await sleep(wait * 1000);
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  async get<T>(path: string): Promise<T> {
    const res = await this.fetchGet(path);
    if (!res.ok) throw await this.refused(res);
    return (await res.json()) as T;
  }

  /** GET that also returns a non-2xx body of the expected shape (e.g. /v1/health's 503). */
  async getAny<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await this.fetchGet(path);
    if (res.status === 401 || res.status === 403 || res.status === 404) throw await this.refused(res);
    return { status: res.status, body: (await res.json()) as T };
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    const res = await fetch(path, {
      method: 'POST',
      headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw await this.refused(res);
    return (await res.json()) as T;
  }

  async put<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(path, { method: 'PUT', headers: this.headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
    if (!res.ok) throw await this.refused(res);
    return (await res.json()) as T;
  }

  /** DELETE; resolves with the answer's JSON, or undefined for an empty answer (204). */
  async del<T>(path: string): Promise<T> {
    const res = await fetch(path, { method: 'DELETE', headers: this.headers() });
    if (!res.ok) throw await this.refused(res);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * A GET as a download: the body as a blob: URL (a link cannot send the
   * key) and the file name from Content-Disposition (`filename*` or
   * `filename`), or `fallback`. The caller revokes the URL.
   */
  async download(path: string, fallback: string): Promise<{ url: string; filename: string }> {
    const res = await this.fetchGet(path);
    if (!res.ok) throw await this.refused(res);
    return { url: URL.createObjectURL(await res.blob()), filename: filenameOf(res.headers.get('content-disposition')) ?? fallback };
  }

  /** An image route as a blob: URL (an <img> cannot send the key). The caller revokes it. */
  async objectUrl(path: string): Promise<string> {
    return (await this.image(path)).url;
  }

  /**
   * An image route as a blob: URL with the EXIF orientation the server read
   * from its bytes (X-Image-Orientation, 1..8; 1 when the route does not say,
   * as for the previews, which the server has already oriented).
   */
  async image(path: string): Promise<{ url: string; orientation: number }> {
    const res = await this.fetchGet(path);
    if (!res.ok) throw await this.refused(res);
    const orientation = Number(res.headers.get('x-image-orientation') ?? '1');
    return { url: URL.createObjectURL(await res.blob()), orientation: Number.isInteger(orientation) ? orientation : 1 };
  }

  /**
   * POST /v1/batches with upload progress (fetch cannot report it; XHR can).
   * Resolves with the batch id and its image ids.
   */
  uploadBatch(
    files: File[],
    fields: { model?: string; minScore?: number },
    onProgress: (sentBytes: number, totalBytes: number) => void,
  ): Promise<SubmittedBatch> {
    const form = new FormData();
    if (fields.model) form.append('model', fields.model);
    if (fields.minScore !== undefined) form.append('minScore', String(fields.minScore));
    for (const f of files) form.append('images', f, f.name);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/v1/batches');
      xhr.setRequestHeader('Authorization', `Bearer ${this.key}`);
      xhr.responseType = 'json';
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : e.loaded);
      xhr.onerror = () => reject(new ApiError(0, 'network_error', 'the upload could not reach the server'));
      xhr.onload = () => {
        const body = xhr.response as SubmittedBatch & { error?: { code: string; message: string } };
        if (xhr.status === 202) return resolve(body);
        if (xhr.status === 401) this.onUnauthorized();
        else reject(new ApiError(xhr.status, body?.error?.code ?? 'error', body?.error?.message ?? `upload failed (${xhr.status})`));
      };
      xhr.send(form);
    });
  }
}

export { formatBytes, planUploads } from './plan-uploads.js';
