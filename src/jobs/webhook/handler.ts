// Delivers a webhook, batch or alert alike, through postGuarded: the target's
// address is checked on the connection itself (WEBHOOK_ALLOWED_HOSTS lets a
// host through), so a name that resolved to a public address at submit and
// to 127.0.0.1 now is refused before anything is sent. 2xx: done. 4xx other
// than 408/429, a redirect (never followed: it could point anywhere, and
// 307/308 would resend the signed body) or a refused target: the delivery
// failed, retrying will not help. Anything else (5xx, timeouts, refused
// connections, DNS failures): retried with backoff. Of any answer at most
// ANSWER_BYTES are read, then the connection is cut; one timeout covers the
// whole exchange.
//
// Jobs are enqueued only by Lookout's own code (Bull Board cannot add or edit
// them), yet the handler re-checks what it did not check itself: the target
// at connect time, and that the alerts secret signs only requests to
// ALERT_WEBHOOK_URL.
import { UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '../../config/config.js';
import { postGuarded, type ResolveAll } from '../../security/guarded-post.js';
import { WebhookTargetError } from '../../security/webhook-target.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { webhook } from './definition.js';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.js';

/** The whole exchange (connect, send, answer headers and the bytes read) in ms. */
const EXCHANGE_MS = 10_000;
/** How much of a receiver's answer is read: enough for an error message, never a flood. */
const ANSWER_BYTES = 4096;

/** What a delivery reads: the alerts webhook (its URL and secret), the batch secret and WEBHOOK_ALLOWED_HOSTS, and the clock. */
export interface WebhookDeps {
  config: { alerts: Pick<Config['alerts'], 'webhook'>; webhooks: Pick<Config['webhooks'], 'batchSecret' | 'allowedHosts'> };
  now: () => Date;
}

/**
 * The webhook job's handler. `options.resolve` replaces the system resolver
 * (tests map names to addresses with it; nothing else should).
 */
export function createWebhookHandler(deps: WebhookDeps, options: { resolve?: ResolveAll } = {}): JobHandler {
  return async function handleWebhook(job: Job) {
    const payload = parsePayload(webhook, job);
    const alertHook = deps.config.alerts.webhook;
    if (payload.signWith === 'alerts' && payload.url !== alertHook?.url) {
      throw new UnrecoverableError(`webhook ${payload.url}: only ALERT_WEBHOOK_URL gets requests signed with the alerts secret`);
    }
    const secret = payload.signWith === 'alerts' ? alertHook?.secret : deps.config.webhooks.batchSecret;
    const body = JSON.stringify(payload.body);
    const timestamp = String(Math.floor(deps.now().getTime() / 1000));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-lookout-event': payload.event, [TIMESTAMP_HEADER]: timestamp };
    if (secret) headers[SIGNATURE_HEADER] = signBody(secret, timestamp, body);
    let res: { status: number; location: string | undefined };
    try {
      res = await postGuarded(payload.url, {
        headers,
        body,
        allowedHosts: deps.config.webhooks.allowedHosts,
        timeoutMs: EXCHANGE_MS,
        maxAnswerBytes: ANSWER_BYTES,
        ...(options.resolve ? { resolve: options.resolve } : {}),
      });
    } catch (err) {
      if (err instanceof WebhookTargetError) throw new UnrecoverableError(err.message);
      throw err;
    }
    const ok = res.status >= 200 && res.status < 300;
    if (ok) return { status: res.status };
    if (res.status >= 300 && res.status < 400) {
      throw new UnrecoverableError(
        `webhook ${payload.url} answered ${res.status}, a redirect${res.location ? ` to ${res.location}` : ''}: redirects are not followed`,
      );
    }
    const message = `webhook ${payload.url} answered ${res.status}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new UnrecoverableError(message);
    throw new Error(message);
  };
}
