// Auth guards: `Authorization: Bearer <key>` everywhere; Bull Board also
// takes the key as the HTTP Basic password so a browser can open it.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { authenticate, roleAtLeast, type Principal } from '../auth/api-keys.js';
import type { Role } from '../db/repositories/api-keys.js';
import type { Pool } from '../db/pool.js';
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

export function requireKey(pool: Pool, options: { allowBasic?: boolean; challenge?: boolean } = {}): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = tokenFrom(req, options.allowBasic ?? false);
    const principal = token ? await authenticate(pool, token) : undefined;
    if (!principal) {
      if (options.challenge) res.set('WWW-Authenticate', 'Basic realm="Lookout", charset="UTF-8"');
      return sendError(
        res,
        new ApiError(401, 'unauthorized', token ? 'invalid, revoked or expired API key' : 'missing API key: send Authorization: Bearer <key>'),
      );
    }
    req.principal = principal;
    next();
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
