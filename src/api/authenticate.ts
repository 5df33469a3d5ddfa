// Auth guards: `Authorization: Bearer <key>` everywhere; Bull Board also
// takes the key as the HTTP Basic password so a browser can open it. Failed
// authentications count against the client address (failed-auth-limit.ts).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { authenticate, roleAtLeast, type Principal } from '../auth/api-keys.js';
import { parseApiKeyToken } from '../auth/api-key-tokens.js';
import type { Role } from '../db/repositories/api-keys.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import type { Pool } from '../db/pool.js';
import { skipRequestAudit } from './audit-requests.js';
import { addressKey, type FailedAuthLimit } from './failed-auth-limit.js';
import { ApiError, sendError } from './http-errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

function tokenFrom(req: Request, allowBasic: boolean): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (allowBasic && scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/** What requireKey needs besides the database: the failed-authentication budget and where to log failures. */
export interface AuthGuard {
  failures: FailedAuthLimit;
  logger: Logger;
}

type FailureReason = 'missing_key' | 'malformed_key' | 'rejected_key';

/**
 * Authenticates the request's key (Bearer; the Basic password too with
 * `allowBasic`) and sets `req.principal`, or answers 401 `unauthorized`
 * (with a Basic challenge when `challenge`). Failures count against the client
 * address (failed-auth-limit.ts); an address over its budget is answered 429
 * `rate_limited` with Retry-After: before any lookup when the request carries
 * no well-formed key, after the key is checked when it does, so a valid key
 * still passes from an address that others behind the same NAT exhausted.
 *
 * Every failure is logged (address, route, reason, the key's public id when
 * the token parses; never the token). Audit: the first failure of an address
 * in a window keeps its `http.request` row, the one that exhausts the budget
 * writes one `auth.throttled` row, and the rest write none (logged at debug).
 */
export function requireKey(pool: Pool, guard: AuthGuard, options: { allowBasic?: boolean; challenge?: boolean } = {}): RequestHandler {
  const { failures, logger } = guard;
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = tokenFrom(req, options.allowBasic ?? false);
    const parsed = token === undefined ? undefined : parseApiKeyToken(token);
    // A well-formed key is checked whatever the address's count (one lookup
    // by its id, as for any request), so valid keys never wait on the budget.
    const principal = parsed && token ? await authenticate(pool, token) : undefined;
    if (principal) {
      req.principal = principal;
      return next();
    }
    const reason: FailureReason = token === undefined && !req.headers.authorization ? 'missing_key' : parsed ? 'rejected_key' : 'malformed_key';
    // Without a well-formed key, an address already refused in this window is
    // refused as it is, not counted again (the window is fixed: counting would
    // not extend it). At exactly the budget it is counted once more, so that
    // one request sees perMinute + 1 and records the refusal.
    const before = parsed ? undefined : await failures.peek(req.ip);
    const throttled = before !== undefined && before.failures > failures.perMinute;
    const count = throttled ? before : await failures.record(req.ip);
    const refused = throttled || (count !== undefined && count.failures > failures.perMinute);
    // INCR is atomic: exactly one request of a window sees perMinute + 1, however many race.
    const crossed = !throttled && count !== undefined && count.failures === failures.perMinute + 1;
    const first = !throttled && count !== undefined && count.failures === 1;
    const ip = req.ip ?? null;
    const route = `${req.method} ${req.baseUrl}${req.path}`;
    const fields = { ip, route, reason, ...(parsed ? { keyId: parsed.id } : {}), failures: count?.failures ?? null, limit: failures.perMinute };
    // Redis away (no count): every failure is audited and logged, as before the budget existed.
    if (count !== undefined && !first) skipRequestAudit(res);
    if (crossed) {
      logger.warn(fields, 'too many failed authentications from this address: refused until the window ends');
      appendAudit(pool, {
        actor: 'anonymous',
        action: 'auth.throttled',
        target: addressKey(req.ip),
        outcome: 'denied',
        details: { ip, route, reason, limit: failures.perMinute, windowSeconds: failures.windowMs / 1000, requestId: req.requestId ?? null },
      }).catch((err: Error) => logger.error({ err: err.message, route }, 'could not write the audit row'));
    } else if (refused) logger.debug(fields, 'failed authentication refused: address over its budget');
    else logger.warn(fields, 'authentication failed');

    if (refused) {
      const resetTime = count?.resetTime.getTime() ?? Date.now() + failures.windowMs;
      const seconds = Math.max(1, Math.ceil((resetTime - Date.now()) / 1000));
      res.set('Retry-After', String(seconds));
      return sendError(res, new ApiError(429, 'rate_limited', `too many failed authentications from this address; retry in ${seconds} s`));
    }
    if (options.challenge) res.set('WWW-Authenticate', 'Basic realm="Lookout", charset="UTF-8"');
    return sendError(
      res,
      new ApiError(401, 'unauthorized', token ? 'invalid, revoked or expired API key' : 'missing API key: send Authorization: Bearer <key>'),
    );
  };
}

export function requireRole(role: Role): RequestHandler {
  return (req, res, next) => {
    if (!req.principal || !roleAtLeast(req.principal.role, role)) {
      return sendError(res, new ApiError(403, 'forbidden', `this needs the ${role} role`));
    }
    next();
  };
}
