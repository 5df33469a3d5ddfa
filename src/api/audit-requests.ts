// Every mutating request leaves one audit row when its response is sent:
// actor, role, route, target ids, outcome, source IP and request id, whether
// it succeeded, was refused, or failed. A request whose client went away
// before the answer (an upload cut off mid-file) gets its row when the
// connection closes: outcome error, status null, aborted true.
// One exception: repeated failed authentications from one address are counted
// and logged instead (authenticate.ts marks them with skipRequestAudit), so a
// flood of anonymous requests cannot grow the append-only trail without bound.
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { appendAudit } from '../db/repositories/audit-log.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SKIP = 'skipRequestAudit';

/** Marks a response as getting no `http.request` row: a repeated anonymous denial, aggregated where it was refused. */
export function skipRequestAudit(res: Response): void {
  res.locals[SKIP] = true;
}

/** Express middleware writing the `http.request` audit row of every POST, PUT, PATCH and DELETE (never throws; a failed write is logged). */
export function auditRequests(pool: Pool, logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!MUTATING.has(req.method)) return next();
    // Read now: a closed socket no longer knows its peer, and a route's error
    // is answered by the app's error handler after the router has reset baseUrl.
    const ip = req.ip ?? null;
    const mountedAt = req.baseUrl;
    let written = false;
    const write = (aborted: boolean) => {
      if (written) return;
      written = true;
      if (res.locals[SKIP] === true) return;
      const status = aborted ? null : res.statusCode;
      const outcome = status === null || status >= 400 ? (status === 401 || status === 403 || status === 429 ? 'denied' : 'error') : 'ok';
      const routePath = (req.route as { path?: string } | undefined)?.path;
      const route = `${req.method} ${routePath === undefined ? `${req.baseUrl}${req.path}` : `${req.baseUrl || mountedAt}${routePath}`}`;
      const target = (req.params as Record<string, string | undefined>).id ?? (res.locals.auditTarget as string | undefined);
      // What a route knows about itself beyond its path (a Bull Board write: its action, queue and job):
      // an object, or a function answering it now, when the row is written.
      const details = res.locals.auditDetails as Record<string, unknown> | (() => Record<string, unknown>) | undefined;
      const extra = (typeof details === 'function' ? details() : details) ?? {};
      appendAudit(pool, {
        actor: req.principal?.actor ?? 'anonymous',
        action: 'http.request',
        ...(target ? { target } : {}),
        outcome,
        details: { ...extra, route, status, ...(aborted ? { aborted: true } : {}), role: req.principal?.role ?? null, ip, requestId: req.requestId ?? null },
      }).catch((err: Error) => logger.error({ err: err.message, route }, 'could not write the audit row'));
    };
    res.on('finish', () => write(false));
    // 'close' without 'finish': the connection closed before the answer was sent.
    res.on('close', () => write(!res.writableFinished));
    next();
  };
}
