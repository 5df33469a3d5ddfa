// Rate limits per API key through express-rate-limit with a Redis store, so
// limits hold across API replicas (failed authentications are counted per
// client address before this, in failed-auth-limit.ts).
// Refusals are 429 with Retry-After and the usual JSON error. While Redis is
// away the limiter fails open at once (passOnStoreError over the fail-fast
// queue connection): reads that need only Postgres keep working, and what
// needs the queues refuses with 503 on its own.
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { ApiError, sendError } from './http-errors.js';

/**
 * A rate-limit-redis store counting under `<prefix>:ratelimit:<name>:`, over
 * `redis` (the fail-fast queue connection). express-rate-limit calls its
 * `init`; a caller that uses the store by itself calls `init({ windowMs })`.
 */
export function redisRateLimitStore(redis: Redis, prefix: string, name: string): RedisStore {
  const store = new RedisStore({
    prefix: `${prefix}:ratelimit:${name}:`,
    sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
  });
  // The store loads its scripts when made; while Redis is away nobody awaits
  // them yet (an unhandled rejection), and the store loads them again on use.
  store.incrementScriptSha.catch(() => undefined);
  store.getScriptSha.catch(() => undefined);
  return store;
}

/**
 * express-rate-limit middleware counting in Redis under
 * `<prefix>:ratelimit:<name>:`; `redis` is the fail-fast queue connection
 * (createQueueRedis), `perMinute` the requests a key may make in a minute.
 */
export function rateLimiter(options: { redis: Redis; prefix: string; perMinute: number; name: string; logger: Logger }): RequestHandler {
  const store = redisRateLimitStore(options.redis, options.prefix, options.name);
  return rateLimit({
    windowMs: 60_000,
    limit: options.perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => (req.principal ? `key:${req.principal.keyId}` : `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`),
    store,
    passOnStoreError: true,
    // The connection logs the outage once; a line per request would drown it.
    logger: {
      error: (err: unknown, message?: string) =>
        options.logger.debug({ err: err instanceof Error ? err.message : String(err), limiter: options.name }, message ?? 'rate limit store error'),
      warn: (err: unknown, message?: string) =>
        options.logger.warn({ err: err instanceof Error ? err.message : String(err), limiter: options.name }, message ?? 'rate limit warning'),
    },
    handler: (req, res) => {
      const reset = (req as typeof req & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime();
      res.set('Retry-After', String(Math.max(1, Math.ceil(((reset ?? Date.now() + 60_000) - Date.now()) / 1000))));
      sendError(res, new ApiError(429, 'rate_limited', `more than ${options.perMinute} requests a minute for this key; retry later`));
    },
  });
}
