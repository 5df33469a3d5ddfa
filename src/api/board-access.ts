// Bull Board is Redis access: reading needs operator, every write action
// admin. Browsers send Basic credentials by themselves, so a write that came
// with Basic auth must also come from the board's own page (Origin or
// Referer on this host): a cross-site form cannot retry or clean queues.
import type { RequestHandler } from 'express';
import { roleAtLeast } from '../auth/api-keys.js';
import { ApiError, sendError } from './http-errors.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const boardAccess: RequestHandler = (req, res, next) => {
  const principal = req.principal!;
  if (READS.has(req.method)) {
    return roleAtLeast(principal.role, 'operator') ? next() : sendError(res, new ApiError(403, 'forbidden', 'Bull Board needs the operator role'));
  }
  if (!roleAtLeast(principal.role, 'admin')) return sendError(res, new ApiError(403, 'forbidden', "Bull Board's actions need the admin role"));
  if (/^basic /i.test(req.get('authorization') ?? '')) {
    const source = req.get('origin') ?? req.get('referer');
    let sameHost = false;
    try {
      sameHost = source !== undefined && new URL(source).host === req.get('host');
    } catch {
      sameHost = false;
    }
    if (!sameHost) return sendError(res, new ApiError(403, 'csrf', 'board actions must come from the board page itself (Origin/Referer check)'));
  }
  next();
};
