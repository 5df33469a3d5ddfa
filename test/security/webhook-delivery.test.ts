// Delivering a webhook, against receivers of the test's own on 127.0.0.1
// (allowed through WEBHOOK_ALLOWED_HOSTS): a redirect is never followed (the
// signed body would go wherever it points), and of any answer only a few KiB
// are read, so a receiver streaming hundreds of MB cannot flood the worker.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookHandler } from '../../src/jobs/webhook/handler.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
const servers: http.Server[] = [];

/** A receiver on 127.0.0.1 answering with `handler`; its URL. */
async function receiver(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  env = await createTestEnv('webhook_delivery', { BATCH_WEBHOOK_SECRET: 'batch-secret-for-the-test-0123456789' });
  services = await env.open();
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await env.cleanup();
});

function deliver(url: string) {
  const handler = createWebhookHandler({
    config: { ...services.config, webhooks: { ...services.config.webhooks, allowedHosts: ['127.0.0.1'] } },
    now: () => new Date(),
  });
  const job = { id: 'w1', name: 'webhook', data: { url, event: 'batch.finished', body: { batchId: 'b' }, signWith: 'batches' } } as unknown as Job;
  return handler(job);
}

describe('webhook delivery', () => {
  it.each([301, 302, 303, 307, 308])('a %s redirect is not followed: the delivery fails, saying so, and the other address gets nothing', async (status) => {
    const elsewhere: string[] = [];
    const target = await receiver((req, res) => {
      elsewhere.push(`${req.method} ${req.url}`);
      res.end('ok');
    });
    const url = await receiver((_req, res) => {
      res.writeHead(status, { location: `${target}/internal-admin` });
      res.end();
    });
    const err = await deliver(`${url}/hook`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toBe(`webhook ${url}/hook answered ${status}, a redirect to ${target}/internal-admin: redirects are not followed`);
    expect(elsewhere).toEqual([]);
  });

  it.each([
    [200, 'succeeds'],
    [500, 'fails, to be retried'],
  ] as const)('a receiver answering %s with 600 MB: only a few KiB are read, the delivery %s at once, memory stays flat', async (status, _outcome) => {
    let sent = 0;
    let closed = false;
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const url = await receiver((_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(600 * 1024 * 1024) });
      res.on('close', () => (closed = true));
      const pump = () => {
        while (!closed && sent < 600 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const outcome = await deliver(`${url}/hook`).then(
      (r) => r,
      (e: unknown) => e,
    );
    const ms = Date.now() - started;
    if (status === 200) expect(outcome).toEqual({ status: 200 });
    else expect((outcome as Error).message).toBe(`webhook ${url}/hook answered 500`);
    expect(ms).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(true); // the client hung up instead of reading on
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024);
  });
});
