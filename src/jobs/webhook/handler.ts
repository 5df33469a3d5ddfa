// Delivers a webhook. 2xx: done. 4xx other than 408/429, or a redirect
// (never followed: it could point anywhere, and 307/308 would resend the
// signed body): the delivery failed, retrying will not help. Anything else
// (5xx, timeouts, refused connections): retried with backoff. Of any answer
// at most ANSWER_BYTES are read, then the body is cancelled; one timeout
// covers the whole exchange.
import type { ReadableStream, ReadableStreamReadResult } from 'node:stream/web';
import { UnrecoverableError, type Job } from 'bullmq';
import type { OpsJobDeps } from '../ops-deps.js';
import { checkWebhookTarget, WebhookTargetError } from '../../security/webhook-target.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { webhook } from './definition.js';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.js';

/** The whole exchange (connect, send, answer headers and the bytes read) in ms. */
const EXCHANGE_MS = 10_000;
/** How much of a receiver's answer is read: enough for an error message, never a flood. */
const ANSWER_BYTES = 4096;

/** Reads at most `limit` bytes of the answer's body, then cancels the rest (the connection is not kept for it). */
async function readAtMost(res: Response, limit: number): Promise<void> {
  if (!res.body) return;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let read = 0;
  try {
    while (read < limit) {
      const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read();
      if (chunk.done) return;
      read += chunk.value.byteLength;
    }
  } catch {
    return; // an answer cut off is still an answer: its status decides
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export function createWebhookHandler(deps: OpsJobDeps): JobHandler {
  return async function handleWebhook(job: Job) {
    const payload = parsePayload(webhook, job);
    const secret = payload.signWith === 'alerts' ? deps.config.alerts.webhook?.secret : deps.config.webhooks.batchSecret;
    // Batch webhooks come from users: their target is checked again now.
    if (payload.signWith === 'batches') {
      try {
        await checkWebhookTarget(payload.url, deps.config.webhooks.allowedHosts);
      } catch (err) {
        if (err instanceof WebhookTargetError) throw new UnrecoverableError(err.message);
        throw err;
      }
    }
    const body = JSON.stringify(payload.body);
    const timestamp = String(Math.floor(deps.now().getTime() / 1000));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-lookout-event': payload.event, [TIMESTAMP_HEADER]: timestamp };
    if (secret) headers[SIGNATURE_HEADER] = signBody(secret, timestamp, body);
    const res = await fetch(payload.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(EXCHANGE_MS) });
    await readAtMost(res, ANSWER_BYTES);
    if (res.ok) return { status: res.status };
    if (res.status >= 300 && res.status < 400) {
      throw new UnrecoverableError(`webhook ${payload.url} answered ${res.status}, a redirect${res.headers.get('location') ? ` to ${res.headers.get('location')}` : ''}: redirects are not followed`);
    }
    const message = `webhook ${payload.url} answered ${res.status}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new UnrecoverableError(message);
    throw new Error(message);
  };
}
