// Delivers a webhook. 2xx: done. 4xx other than 408/429: the receiver refuses
// it, retrying will not help. Anything else (5xx, timeouts, refused
// connections): retried with backoff.
import { UnrecoverableError, type Job } from 'bullmq';
import type { OpsJobDeps } from '../ops-deps.js';
import { checkWebhookTarget, WebhookTargetError } from '../../security/webhook-target.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { webhook } from './definition.js';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.js';

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
    const res = await fetch(payload.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { status: res.status };
    const message = `webhook ${payload.url} answered ${res.status}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new UnrecoverableError(message);
    throw new Error(message);
  };
}
