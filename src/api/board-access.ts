// Bull Board is Redis access: reading needs operator, every write action
// admin. Browsers send Basic credentials by themselves, so a write that came
// with Basic auth must also come from the board's own page (Origin or
// Referer on this host): a cross-site form cannot retry or clean queues.
// Writes that would create or change work (add a job, edit its data, empty or
// obliterate a queue, run or change a scheduler) are refused for every role
// (src/board/board-writes.ts), and every board write's audit row names its
// action, queue and job.
import type { RequestHandler } from 'express';
import { roleAtLeast } from '../auth/api-keys.js';
import { BOARD_WRITE, refusalReason, type BoardWrite } from '../board/board-writes.js';
import { ApiError, sendError } from './http-errors.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const boardAccess: RequestHandler = (req, res, next) => {
  const principal = req.principal!;
  if (READS.has(req.method)) {
    return roleAtLeast(principal.role, 'operator') ? next() : sendError(res, new ApiError(403, 'forbidden', 'Bull Board needs the operator role'));
  }
  if (!roleAtLeast(principal.role, 'admin')) return sendError(res, new ApiError(403, 'forbidden', "Bull Board's actions need the admin role"));
  const write = res.locals[BOARD_WRITE] as BoardWrite | undefined;
  if (!write?.allowed) return sendError(res, new ApiError(403, 'board_write_refused', refusalReason(write)));
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

/**
 * Names a board write in its request's audit row (run before auditRequests
 * answers, after recogniseBoardWrites): target `job:<queue>/<id>` or
 * `queue:<queue>`, and details.board with the action, queue, job id, status,
 * scheduler and job state, read when the row is written (a later check adds
 * the state). Never answers.
 */
export const auditBoardWrites: RequestHandler = (_req, res, next) => {
  const write = res.locals[BOARD_WRITE] as BoardWrite | undefined;
  if (write) {
    if (write.queue !== undefined) res.locals.auditTarget = write.jobId !== undefined ? `job:${write.queue}/${write.jobId}` : `queue:${write.queue}`;
    res.locals.auditDetails = () => {
      const { allowed: _allowed, ...named } = write;
      return { board: named };
    };
  }
  next();
};
