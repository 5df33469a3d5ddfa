// Rate limits per API key (per IP before authentication) through
// express-rate-limit with a Redis store, so limits hold across API replicas.
// Refusals are 429 with Retry-After and the usual JSON error.
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { ApiError, sendError } from './http-errors.js';

export function rateLimiter(options: { redis: Redis; prefix: string; perMinute: number; name: string }): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: options.perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => (req.principal ? `key:${req.principal.keyId}` : `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`),
    store: new RedisStore({
      prefix: `${options.prefix}:ratelimit:${options.name}:`,
      sendCommand: (command: string, ...args: string[]) => options.redis.call(command, ...args) as Promise<RedisReply>,
    }),
    handler: (req, res) => {
      const reset = (req as typeof req & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime();
      res.set('Retry-After', String(Math.max(1, Math.ceil(((reset ?? Date.now() + 60_000) - Date.now()) / 1000))));
      sendError(res, new ApiError(429, 'rate_limited', `more than ${options.perMinute} requests a minute for this key; retry later`));
    },
  });
}
