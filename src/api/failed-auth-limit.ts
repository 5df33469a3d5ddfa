// The failed-authentication budget of a client address. A request that fails
// authentication (no key, a malformed key, or one that is unknown, wrong,
// revoked or expired) counts against the address it came from: req.ip, so
// X-Forwarded-For counts only from a proxy TRUST_PROXY trusts (a port it
// writes after the address is dropped), and IPv6 addresses are grouped by /56 (express-rate-limit's ipKeyGenerator), as one
// client usually holds a whole /56 or /64. Counts live in Redis for a fixed
// one-minute window so the budget holds across API replicas.
//
// Requests with a valid key never count: an office of key holders behind one
// NAT address is limited per key (rate-limit.ts), never per address. While
// Redis is away the budget fails open, like the per-key limits.
import { ipKeyGenerator } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisRateLimitStore } from './rate-limit.js';

const WINDOW_MS = 60_000;

/** Failed authentications counted for one address in the current window. */
export interface FailureCount {
  /** Failures so far in this window (0 when none). */
  failures: number;
  /** When the window, and so the refusal, ends. */
  resetTime: Date;
}

export interface FailedAuthLimit {
  /** Failed authentications an address may make in a window before it is refused with 429. */
  readonly perMinute: number;
  readonly windowMs: number;
  /** The address's count without adding to it; undefined when Redis cannot answer (fail open). */
  peek(ip: string | undefined): Promise<FailureCount | undefined>;
  /** Adds one failure to the address's count and returns the new count; undefined when Redis cannot answer. */
  record(ip: string | undefined): Promise<FailureCount | undefined>;
}

/** `a.b.c.d:port` or `[v6]:port` (some proxies forward the client's port too; a new connection would be a new address) → the address alone. */
const WITH_PORT = /^(?:\[([0-9a-f:.]+)\](?::\d{1,5})?|(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5})$/i;

/**
 * The key an address is counted under: IPv4 as it is, IPv6 by its /56
 * network, IPv4-mapped IPv6 as IPv4; a port a proxy wrote after the address
 * (`203.0.113.7:51234`, `[2001:db8::7]:443`) is dropped first.
 */
export const addressKey = (ip: string | undefined): string => {
  const bare = ip === undefined ? 'unknown' : ip.replace(WITH_PORT, (_all, v6: string | undefined, v4: string | undefined) => v6 ?? v4 ?? _all);
  return `ip:${ipKeyGenerator(bare)}`;
};

/**
 * The failed-authentication budget over the fail-fast queue connection
 * `redis`, counting under `<prefix>:ratelimit:auth-failures:`. Store errors are
 * logged at debug (the connection logs the outage itself) and read as "no count".
 */
export function failedAuthLimit(options: { redis: Redis; prefix: string; perMinute: number; logger: Logger }): FailedAuthLimit {
  const store = redisRateLimitStore(options.redis, options.prefix, 'auth-failures');
  store.init({ windowMs: WINDOW_MS } as Parameters<typeof store.init>[0]);
  const failOpen = (err: unknown): undefined => {
    options.logger.debug({ err: err instanceof Error ? err.message : String(err), limiter: 'auth-failures' }, 'rate limit store error');
    return undefined;
  };
  // ioredis answers a missing key's count as null, which the store reads as NaN.
  const counted = (result: { totalHits: number; resetTime?: Date | undefined }): FailureCount => ({
    failures: Number.isFinite(result.totalHits) ? result.totalHits : 0,
    resetTime: result.resetTime && result.resetTime.getTime() > Date.now() ? result.resetTime : new Date(Date.now() + WINDOW_MS),
  });
  return {
    perMinute: options.perMinute,
    windowMs: WINDOW_MS,
    peek: (ip) => store.get(addressKey(ip)).then((r) => (r ? counted(r) : undefined), failOpen),
    record: (ip) => store.increment(addressKey(ip)).then(counted, failOpen),
  };
}
