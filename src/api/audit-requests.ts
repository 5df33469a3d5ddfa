// Every mutating request leaves an audit row when its response is sent:
// actor, role, route, target ids, outcome, source IP and request id, whether
// it succeeded, was refused, or failed.
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function auditRequests(pool: Pool, logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!MUTATING.has(req.method)) return next();
    res.on('finish', () => {
      const status = res.statusCode;
      const outcome = status < 400 ? 'ok' : status === 401 || status === 403 || status === 429 ? 'denied' : 'error';
      const route = `${req.method} ${req.baseUrl}${(req.route as { path?: string } | undefined)?.path ?? req.path}`;
      const target = (req.params as Record<string, string | undefined>).id ?? (res.locals.auditTarget as string | undefined);
      appendAudit(pool, {
        actor: req.principal?.actor ?? 'anonymous',
        action: 'http.request',
        ...(target ? { target } : {}),
        outcome,
        details: { route, status, role: req.principal?.role ?? null, ip: req.ip ?? null, requestId: req.requestId ?? null },
      }).catch((err: Error) => logger.error({ err: err.message, route }, 'could not write the audit row'));
    });
    next();
  };
}
