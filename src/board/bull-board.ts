// Bull Board at /admin/queues over every Lookout queue (admin only; the key
// works as a Bearer token or as the HTTP Basic password for browsers).
// Its page is served with nothing from another host: the package's HTML links
// Google Fonts, which a host without internet (or a strict CSP) cannot load;
// its CSS names system fonts after IBM Plex, so the link is dropped.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Job, Queue } from 'bullmq';
import type { Express, Router } from 'express';
import { restore } from '../jobs/restore/definition.js';
import { restorePriorities } from '../jobs/restore-priorities.js';

export const BOARD_PATH = '/admin/queues';

type RenderFile = (file: string, options: object, done: (err: Error | null, html?: string) => void) => void;

/** `<link>` tags whose href is absolute (http:, https: or protocol-relative): stylesheets, fonts, preconnects off-host. */
const REMOTE_LINK = /<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\/[^>]*>\s*/gi;

/** The page's HTML without links to other hosts. */
export function withoutRemoteLinks(html: string): string {
  return html.replace(REMOTE_LINK, '');
}

/** What the board's queue adapter refuses; Bull Board's error handler answers its statusCode. */
export class BoardAdapterRefusal extends Error {
  override name = 'BoardAdapterRefusal';
  readonly statusCode = 403;
}

/** `job` as the board may handle it: retried only from the failed state and never when it is a restore (one attempt, its requester's), its data never changed (own, non-enumerable methods, so job.toJSON() is unchanged). */
function guardedJob(job: Job, queue: Queue): Job {
  const retry = job.retry.bind(job);
  const guardedRetry: Job['retry'] = (state = 'failed', opts) => {
    if (state !== 'failed') {
      return Promise.reject(
        new BoardAdapterRefusal(
          `Bull Board may not retry a ${state} job: retrying a completed job would run finished work again; only failed jobs are retried`,
        ),
      );
    }
    if (job.name === restore.name) {
      return Promise.reject(
        new BoardAdapterRefusal(
          'Bull Board may not retry a restore: a restore runs once, audited as the one who asked for it; ask again with lookout backup restore',
        ),
      );
    }
    // BullMQ puts a retried job on the plain wait list, ahead of every prioritized one: back to its place.
    return retry(state, opts).then(() => restorePriorities(queue, [String(job.id)]).then(() => undefined));
  };
  const refuseUpdate: Job['updateData'] = () => Promise.reject(new BoardAdapterRefusal("Bull Board may not change a job's data"));
  Object.defineProperty(job, 'retry', { value: guardedRetry, enumerable: false });
  Object.defineProperty(job, 'updateData', { value: refuseUpdate, enumerable: false });
  return job;
}

/**
 * The adapter the board reads and writes `queue` through. Behind the route
 * allow-list of board-writes.ts, and whatever route reaches it: every job it
 * hands out retries only from the failed state (a job that completed after
 * its route was checked is not run again) and refuses data changes, and it
 * adds no jobs, never empties or obliterates the queue, and leaves job
 * schedulers alone. Each refusal rejects with BoardAdapterRefusal (403).
 */
export function boardQueueAdapter(queue: Queue): BullMQAdapter {
  const refuse = (what: string) => Promise.reject(new BoardAdapterRefusal(`Bull Board may not ${what}: only Lookout's API and CLI create or change work`));
  return new (class extends BullMQAdapter {
    override async getJob(id: string): Promise<Job | undefined> {
      const job = await super.getJob(id);
      return job ? guardedJob(job, queue) : job;
    }
    override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
      return (await super.getJobs(...args)).map((job) => guardedJob(job, queue));
    }
    override addJob(): Promise<Job> {
      return refuse('add a job');
    }
    override empty(): Promise<void> {
      return refuse('empty a queue');
    }
    override obliterate(): Promise<void> {
      return refuse('obliterate a queue');
    }
    override removeJobScheduler(): Promise<boolean> {
      return refuse('remove a job scheduler');
    }
    override runJobSchedulerNow(): ReturnType<BullMQAdapter['runJobSchedulerNow']> {
      return refuse('run a job scheduler');
    }
    override updateJobScheduler(): ReturnType<BullMQAdapter['updateJobScheduler']> {
      return refuse('change a job scheduler');
    }
    override setGlobalConcurrency(): Promise<void> {
      return Promise.reject(
        new BoardAdapterRefusal(
          "Bull Board may not set a queue's global concurrency: use PUT /v1/queues/:name/concurrency or lookout queues concurrency (audited with the old and new value)",
        ),
      );
    }
  })(queue);
}

/**
 * The Bull Board express app over `queues`, to mount at BOARD_PATH.
 * Throws at start if Bull Board no longer renders its page with ejs (the
 * remote-link removal would silently stop applying).
 */
export function bullBoardRouter(queues: Iterable<Queue>): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [...queues].map(boardQueueAdapter),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Lookout' } },
  });
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by'); // a sub-app of its own: the API's setting does not reach it
  // express keeps registered view engines in app.engines (not in its types).
  const renderFile = (board as unknown as { engines: Record<string, RenderFile | undefined> }).engines['.ejs'];
  if (!renderFile) throw new Error('Bull Board no longer renders with ejs: update withoutRemoteLinks in src/board/bull-board.ts');
  board.engine('ejs', (file, options, done) => renderFile(file, options, (err, html) => done(err, html === undefined ? undefined : withoutRemoteLinks(html))));
  return board;
}
