// The address a webhook connects to is the address checked: the host is
// resolved once, by the connection's own lookup, and a blocked answer refuses
// the connection before anything is sent (no DNS-rebinding window between a
// check and a second resolution). Names are resolved by a resolver the test
// injects; every receiver is the test's own, on 127.0.0.1, counting the
// connections it gets. Public answers are judged at the lookup, never
// connected to. Alert webhooks go through the same guard.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { OpsJobDeps } from '../../src/jobs/ops-deps.js';
import { createWebhookHandler } from '../../src/jobs/webhook/handler.js';
import { verifySignature } from '../../src/jobs/webhook/sign.js';
import { guardedLookup, postGuarded, type ResolveAll } from '../../src/security/guarded-post.js';
import { WebhookTargetError } from '../../src/security/webhook-target.js';

const ALERT_SECRET = 'alert-secret-for-the-guard-test-0123';
const servers: http.Server[] = [];

interface Receiver {
  url: string;
  port: number;
  connections: number;
  requests: Array<{ host: string | undefined; headers: http.IncomingHttpHeaders; body: string }>;
}

/** A receiver on 127.0.0.1 that answers 204 and counts every TCP connection made to it. */
async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', port: 0, connections: 0, requests: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      r.requests.push({ host: req.headers.host, headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  server.on('connection', (_s: Socket) => r.connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}`;
  return r;
}

afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A resolver answering from `table`, recording every name asked. */
function resolver(table: Record<string, string[]>): ResolveAll & { asked: string[] } {
  const asked: string[] = [];
  const resolve = (host: string) => {
    asked.push(host);
    const found = table[host];
    if (!found) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return Object.assign(resolve, { asked });
}

function config(env: Record<string, string>): Config {
  return loadConfig({ LOOKOUT_PROFILE: 'test', ...env });
}

function handler(cfg: Config, resolve: ResolveAll) {
  const deps = { config: cfg, logger: pino({ level: 'silent' }), now: () => new Date() } as unknown as OpsJobDeps;
  return createWebhookHandler(deps, { resolve });
}

function job(url: string, signWith: 'alerts' | 'batches' = 'batches'): Job {
  return { id: 'w1', name: 'webhook', data: { url, event: 'batch.finished', body: { batchId: 'b' }, signWith } } as unknown as Job;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

/** Calls a lookup the way net does and answers what it called back with. */
function lookUp(lookup: ReturnType<typeof guardedLookup>, host: string, options: { all?: boolean; family?: number }) {
  return new Promise<{ err: Error | null; result: unknown }>((resolve) => {
    lookup(host, options, (err: Error | null, address: unknown, family?: number) => resolve({ err, result: options.all ? address : { address, family } }));
  });
}

describe('the connection lookup', () => {
  const table = {
    'public.test': ['8.8.8.8', '2606:4700:4700::1111'],
    'mixed.test': ['8.8.8.8', '10.0.0.5'],
    'metadata.test': ['169.254.169.254'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'nat64.test': ['64:ff9b::a00:1'],
  };

  it('lets a public answer through, as net asks for it (all, one, one family), without connecting anywhere', async () => {
    const lookup = guardedLookup(resolver(table), false);
    expect(await lookUp(lookup, 'public.test', { all: true })).toEqual({
      err: null,
      result: [
        { address: '8.8.8.8', family: 4 },
        { address: '2606:4700:4700::1111', family: 6 },
      ],
    });
    expect(await lookUp(lookup, 'public.test', {})).toEqual({ err: null, result: { address: '8.8.8.8', family: 4 } });
    expect(await lookUp(lookup, 'public.test', { family: 6 })).toEqual({ err: null, result: { address: '2606:4700:4700::1111', family: 6 } });
  });

  it.each([
    ['mixed.test', '10.0.0.5'],
    ['metadata.test', '169.254.169.254'],
    ['mapped.test', '::ffff:127.0.0.1'],
    ['nat64.test', '64:ff9b::a00:1'],
  ])('refuses %s, naming the host and the blocked address %s (any blocked answer refuses)', async (host, address) => {
    const { err } = await lookUp(guardedLookup(resolver(table), false), host, { all: true });
    expect(err).toBeInstanceOf(WebhookTargetError);
    expect(err!.message).toBe(`webhook host ${host} resolves to ${address}, a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS`);
  });

  it('lets an allowed host resolve to a private address', async () => {
    expect(await lookUp(guardedLookup(resolver(table), true), 'metadata.test', {})).toEqual({ err: null, result: { address: '169.254.169.254', family: 4 } });
  });
});

describe('batch webhook deliveries', () => {
  it('a name that now resolves to loopback is refused at connect: one resolution, no connection reaches the receiver', async () => {
    const r = await receiver();
    const resolve = resolver({ 'rebind.test': ['127.0.0.1'] });
    const err = await failure(handler(config({}), resolve)(job(`http://rebind.test:${r.port}/hook`)));
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(err!.message).toBe('webhook host rebind.test resolves to 127.0.0.1, a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS');
    expect(resolve.asked).toEqual(['rebind.test']);
    expect(r.connections).toBe(0);
    expect(r.requests).toEqual([]);
  });

  it.each([
    ['http://127.0.0.1:PORT/hook', '127.0.0.1'],
    ['http://2130706433:PORT/hook', '127.0.0.1'],
    ['http://0x7f000001:PORT/hook', '127.0.0.1'],
    ['http://127.1:PORT/hook', '127.0.0.1'],
    ['http://[::ffff:127.0.0.1]:PORT/hook', '::ffff:7f00:1'],
  ])('an IP literal %s (which Node connects to without a lookup) is refused before connecting', async (spelled, address) => {
    const r = await receiver();
    const resolve = resolver({});
    const err = await failure(handler(config({}), resolve)(job(spelled.replace('PORT', String(r.port)))));
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(err!.message).toBe(`webhook host ${address} is a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS`);
    expect(resolve.asked).toEqual([]);
    expect(r.connections).toBe(0);
  });

  it('an allowed name is connected to at the address its one resolution gave', async () => {
    const r = await receiver();
    const resolve = resolver({ 'receiver.test': ['127.0.0.1'] });
    const cfg = config({ WEBHOOK_ALLOWED_HOSTS: 'receiver.test' });
    expect(await handler(cfg, resolve)(job(`http://receiver.test:${r.port}/hook`))).toEqual({ status: 204 });
    expect(resolve.asked).toEqual(['receiver.test']);
    expect(r.requests.map((q) => q.host)).toEqual([`receiver.test:${r.port}`]);
  });

  it('postGuarded refuses other schemes and credentials before resolving anything', async () => {
    const resolve = resolver({});
    const opts = { headers: {}, body: '{}', allowedHosts: [], timeoutMs: 1000, maxAnswerBytes: 16, resolve };
    await expect(postGuarded('ftp://files.test/x', opts)).rejects.toThrow(new WebhookTargetError('webhookUrl must be http or https'));
    await expect(postGuarded('http://u:p@files.test/x', opts)).rejects.toThrow(new WebhookTargetError('webhookUrl must not carry credentials'));
    expect(resolve.asked).toEqual([]);
  });
});

describe('alert webhook deliveries go through the same guard', () => {
  it('an ALERT_WEBHOOK_URL on loopback is refused unless WEBHOOK_ALLOWED_HOSTS lists it, and then delivered signed', async () => {
    const r = await receiver();
    const url = `${r.url}/alerts`;
    const refused = await failure(handler(config({ ALERT_WEBHOOK_URL: url, ALERT_WEBHOOK_SECRET: ALERT_SECRET }), resolver({}))(job(url, 'alerts')));
    expect(refused).toBeInstanceOf(UnrecoverableError);
    expect(refused!.message).toBe('webhook host 127.0.0.1 is a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS');
    expect(r.connections).toBe(0);

    const allowed = config({ ALERT_WEBHOOK_URL: url, ALERT_WEBHOOK_SECRET: ALERT_SECRET, WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${r.port}` });
    expect(await handler(allowed, resolver({}))(job(url, 'alerts'))).toEqual({ status: 204 });
    const [got] = r.requests;
    expect(verifySignature(ALERT_SECRET, String(got!.headers['x-lookout-timestamp']), got!.body, String(got!.headers['x-lookout-signature']))).toBe(true);
  });

  it('the alerts secret signs only requests to ALERT_WEBHOOK_URL: a job naming another target is refused unsent', async () => {
    const r = await receiver();
    const cfg = config({
      ALERT_WEBHOOK_URL: 'https://alerts.example.test/hook',
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${r.port}`,
    });
    const err = await failure(handler(cfg, resolver({}))(job(`${r.url}/steal`, 'alerts')));
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(err!.message).toBe(`webhook ${r.url}/steal: only ALERT_WEBHOOK_URL gets requests signed with the alerts secret`);
    expect(r.connections).toBe(0);
  });
});
