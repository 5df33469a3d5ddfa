// The one way Lookout POSTs to a URL someone configured or submitted
// (batch and alert webhooks): the address is checked on the connection
// itself, so the address checked is the address connected to. Resolving the
// host once for a check and again for the connection would leave a
// DNS-rebinding window: a name answering a public address to the check and
// 127.0.0.1 to the connection. Here the socket's own `lookup` resolves the
// host and refuses any blocked address before a connection is tried; an IP
// literal (which Node connects to without a lookup) is judged before the
// request starts. Redirects are never followed (node:http does not), at most
// `maxAnswerBytes` of the answer are read, and one timeout covers the whole
// exchange. node:http rather than fetch: the global fetch's undici takes no
// per-request lookup, and the undici package is not a dependency.
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { blockedTargetError, hostOf, isAllowedHost, isBlockedAddress, parseWebhookUrl } from './webhook-target.js';
import { WEBHOOK_USER_AGENT } from './webhook-user-agent.js';

/** Every address `host` resolves to (A and AAAA); rejects when it does not resolve. */
export type ResolveAll = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

/** The system resolver (getaddrinfo, as Node's own connections use). */
export const systemResolve: ResolveAll = (host) => dnsLookup(host, { all: true });

/**
 * A `lookup` for net/http connections that resolves with `resolve` and
 * refuses, with a WebhookTargetError naming the host and the address, when
 * any address is not global unicast (any: with several answers the socket
 * may try each of them). With `allowed` true every address is let through
 * (WEBHOOK_ALLOWED_HOSTS). Honours the socket's `family` and `all` options.
 */
export function guardedLookup(resolve: ResolveAll, allowed: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const bad = allowed ? undefined : found.find((a) => isBlockedAddress(a.address));
        if (bad) return callback(blockedTargetError(hostname, bad.address), '', 0);
        const family = typeof options.family === 'number' ? options.family : 0;
        const usable = found.filter((a) => family === 0 || a.family === family);
        if (usable.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`webhook host ${hostname} has no IPv${family || ''} address`);
          err.code = 'ENOTFOUND';
          return callback(err, '', 0);
        }
        if (options.all)
          return callback(
            null,
            usable.map((a) => ({ address: a.address, family: a.family })),
          );
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

export interface GuardedPostOptions {
  headers: Record<string, string>;
  body: string;
  /** Hosts (or host:port) whose addresses are not checked (WEBHOOK_ALLOWED_HOSTS). */
  allowedHosts: readonly string[];
  /** The whole exchange (connect, send, answer headers, the bytes read), in ms. */
  timeoutMs: number;
  /** How many bytes of the answer's body are read before it is cancelled. */
  maxAnswerBytes: number;
  /** Resolves host names; the system resolver unless a test injects one. */
  resolve?: ResolveAll;
}

export interface GuardedAnswer {
  status: number;
  /** The Location header of a redirect (never followed). */
  location: string | undefined;
}

/**
 * POSTs `body` to `rawUrl` under the rules above and answers the status
 * once at most `maxAnswerBytes` of the body were read (the rest is cut off:
 * the connection is closed, never kept for it).
 * @throws WebhookTargetError when the URL is refused (scheme, credentials) or
 *   its host is, or resolves to, a blocked address: nothing was sent
 * @throws the connection's error (refused, reset, DNS failure) or an
 *   AbortError/TimeoutError when the exchange ran past `timeoutMs`
 */
export async function postGuarded(rawUrl: string, options: GuardedPostOptions): Promise<GuardedAnswer> {
  const url = parseWebhookUrl(rawUrl);
  const host = hostOf(url);
  const allowed = isAllowedHost(url, options.allowedHosts);
  // Node connects to an IP literal without calling `lookup`: judged here, before anything is sent.
  if (!allowed && isIP(host) !== 0 && isBlockedAddress(host)) throw blockedTargetError(host, host);
  const signal = AbortSignal.timeout(options.timeoutMs);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<GuardedAnswer>((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'user-agent': WEBHOOK_USER_AGENT, ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
        lookup: guardedLookup(options.resolve ?? systemResolve, allowed),
        agent: false, // a connection of its own: never one a previous lookup opened
        signal,
      },
      (res) => {
        const answer: GuardedAnswer = { status: res.statusCode ?? 0, location: res.headers.location };
        let read = 0;
        const done = () => {
          res.destroy();
          resolve(answer);
        };
        res.on('data', (chunk: Buffer) => {
          read += chunk.byteLength;
          if (read >= options.maxAnswerBytes) done();
        });
        res.on('end', done);
        // An answer cut off (or timed out) after its headers is still an answer: its status decides.
        res.on('error', done);
        res.on('aborted', done);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
