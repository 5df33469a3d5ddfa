// Which of Bull Board's write routes Lookout lets through, and what each one
// does, for the role check and the audit row. Jobs are created only by
// Lookout's own producers (an authenticated route or the CLI), which set the
// actor and check the targets: through the board nobody may add a job, edit a
// job's data, empty or obliterate a queue, or run, edit or remove a job
// scheduler (the schedules are Lookout's configuration, kept by
// src/producers/schedule-keeper.ts). Retrying, promoting, cleaning, pausing and
// resuming, and tuning a queue's limits stay for admins. Retrying stays for
// failed jobs only, as through Lookout's API and CLI: retrying a completed job
// would run finished work again (a replace-live restore over the live
// database, its audit row naming whoever asked the first time), so a retry of
// completed jobs is refused by its path (a whole queue) or by the job's state
// (one job), and the board's queue adapter refuses it too (bull-board.ts). The
// list is an allow-list: a write route a newer Bull Board adds is refused
// until it is named here.
//
// Requests are matched by an express Router over Bull Board's own route table
// (`appRoutes`, in its order, with the same default matching: case-insensitive,
// trailing slash optional), so what is judged here is what the board would run.
import { appRoutes } from '@bull-board/api/dist/routes.js';
import type { Queue } from 'bullmq';
import { Router, type RequestHandler } from 'express';

/** A board write, as the audit row names it. */
export interface BoardWrite {
  /** `job.retry`, `queue.clean`, `queues.pause` …; `job.add`, `queue.obliterate` … for refused ones. */
  action: string;
  /** False for writes the board must not do (see the header). */
  allowed: boolean;
  queue?: string;
  jobId?: string;
  /** The job status a whole-queue retry or clean applies to. */
  status?: string;
  scheduler?: string;
  /** The job's state when a one-job retry was checked. */
  state?: string;
}

/** The only state the board may retry jobs from. */
const RETRYABLE = 'failed';

/** Bull Board's write routes (method and path template) → the action's name and whether it is allowed. */
const WRITES: Readonly<Record<string, { action: string; allowed: boolean }>> = {
  'put /api/queues/pause': { action: 'queues.pause', allowed: true },
  'put /api/queues/resume': { action: 'queues.resume', allowed: true },
  'put /api/queues/:queueName/retry/:queueStatus': { action: 'queue.retry', allowed: true },
  'put /api/queues/:queueName/promote': { action: 'queue.promote', allowed: true },
  'put /api/queues/:queueName/clean/:queueStatus': { action: 'queue.clean', allowed: true },
  'put /api/queues/:queueName/pause': { action: 'queue.pause', allowed: true },
  'put /api/queues/:queueName/resume': { action: 'queue.resume', allowed: true },
  'put /api/queues/:queueName/rate-limit': { action: 'queue.set-rate-limit', allowed: true },
  'put /api/queues/:queueName/rate-limit/release': { action: 'queue.release-rate-limit', allowed: true },
  'put /api/queues/:queueName/:jobId/retry': { action: 'job.retry', allowed: true },
  'put /api/queues/:queueName/:jobId/clean': { action: 'job.clean', allowed: true },
  'put /api/queues/:queueName/:jobId/promote': { action: 'job.promote', allowed: true },
  'patch /api/queues/:queueName/:jobId/delay': { action: 'job.change-delay', allowed: true },
  'patch /api/queues/:queueName/:jobId/priority': { action: 'job.change-priority', allowed: true },
  'put /api/queues/:queueName/:jobId/remove-unprocessed-children': { action: 'job.remove-unprocessed-children', allowed: true },
  // Refused: each would run or change work with no Lookout producer behind it.
  // The global concurrency has one door, audited with its old and new value (PUT /v1/queues/:name/concurrency, lookout queues concurrency).
  'put /api/queues/:queueName/concurrency': { action: 'queue.set-concurrency', allowed: false },
  'post /api/queues/:queueName/add': { action: 'job.add', allowed: false },
  'patch /api/queues/:queueName/:jobId/update-data': { action: 'job.update-data', allowed: false },
  'put /api/queues/:queueName/empty': { action: 'queue.empty', allowed: false },
  'put /api/queues/:queueName/obliterate': { action: 'queue.obliterate', allowed: false },
  'put /api/queues/:queueName/job-schedulers/:schedulerId/run': { action: 'scheduler.run', allowed: false },
  'put /api/queues/:queueName/job-schedulers/:schedulerId/remove': { action: 'scheduler.remove', allowed: false },
  'patch /api/queues/:queueName/job-schedulers/:schedulerId': { action: 'scheduler.update', allowed: false },
};

/** Why a refused board write is refused, for the 403 body. */
export function refusalReason(write: BoardWrite | undefined): string {
  if (!write) return 'Bull Board has no such write action';
  const why =
    "only failed jobs may be retried, as through Lookout's API and CLI: retrying a finished job would run its work again with no Lookout producer behind it";
  if (write.action === 'queue.retry') return `Bull Board may not queue.retry ${write.status ?? ''} jobs here: ${why}`;
  if (write.action === 'job.retry') return `Bull Board may not job.retry a ${write.state ?? 'finished'} job here: ${why}`;
  return `Bull Board may not ${write.action} here: jobs are created and changed only by Lookout itself (its API and CLI), which name the real actor and check what the job will do; retry, promote, clean, pause and resume remain`;
}

/** res.locals key holding the BoardWrite of the request, when it is one. */
export const BOARD_WRITE = 'boardWrite';

/**
 * Middleware that recognises a request to one of Bull Board's write routes
 * (mounted where the board is, before it) and stores what it is as
 * `res.locals[BOARD_WRITE]`; never answers, always calls next. A write
 * request that matches no write route leaves nothing there. A whole queue's
 * retry is allowed only for failed jobs (by its path); a one-job retry is
 * judged by its state in checkRetriedJobState, after authentication.
 */
export function recogniseBoardWrites(): RequestHandler {
  const router = Router();
  for (const route of appRoutes.api) {
    for (const method of [route.method].flat()) {
      if (method === 'get') continue;
      for (const path of [route.route].flat()) {
        const known = WRITES[`${method} ${path}`];
        router[method](path, (req, res, next) => {
          if (res.locals[BOARD_WRITE] === undefined) {
            const params = req.params as Record<string, string | undefined>;
            const write: BoardWrite = {
              action: known?.action ?? `unknown ${method.toUpperCase()} ${path}`,
              allowed: known?.allowed ?? false,
              ...(params.queueName !== undefined ? { queue: params.queueName } : {}),
              ...(params.jobId !== undefined ? { jobId: params.jobId } : {}),
              ...(params.queueStatus !== undefined ? { status: params.queueStatus } : {}),
              ...(params.schedulerId !== undefined ? { scheduler: params.schedulerId } : {}),
            };
            if (write.action === 'queue.retry' && write.status !== RETRYABLE) write.allowed = false;
            res.locals[BOARD_WRITE] = write;
          }
          next();
        });
      }
    }
  }
  return router;
}

/**
 * Middleware (after authentication: it reads Redis) that reads the state of
 * the job a one-job board retry names from `queues` (the Lookout queues by
 * name), records it on the BoardWrite, and refuses the retry when the job is
 * completed. A state that cannot be read leaves the decision to the board's
 * queue adapter, which retries from the failed state only. Never answers.
 */
export function checkRetriedJobState(queues: ReadonlyMap<string, Queue>): RequestHandler {
  return async (_req, res, next) => {
    const write = res.locals[BOARD_WRITE] as BoardWrite | undefined;
    if (write?.action === 'job.retry' && write.allowed && write.queue !== undefined && write.jobId !== undefined) {
      const state = await queues
        .get(write.queue)
        ?.getJobState(write.jobId)
        .catch(() => undefined);
      if (state !== undefined && state !== 'unknown') write.state = state;
      if (state === 'completed') write.allowed = false;
    }
    next();
  };
}
