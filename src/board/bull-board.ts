// Bull Board at /admin/queues over every Lookout queue (admin only; the key
// works as a Bearer token or as the HTTP Basic password for browsers).
// Its page is served with nothing from another host: the package's HTML links
// Google Fonts, which a host without internet (or a strict CSP) cannot load;
// its CSS names system fonts after IBM Plex, so the link is dropped.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Express, Router } from 'express';

export const BOARD_PATH = '/admin/queues';

type RenderFile = (file: string, options: object, done: (err: Error | null, html?: string) => void) => void;

/** `<link>` tags whose href is absolute (http:, https: or protocol-relative): stylesheets, fonts, preconnects off-host. */
const REMOTE_LINK = /<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\/[^>]*>\s*/gi;

/** The page's HTML without links to other hosts. */
export function withoutRemoteLinks(html: string): string {
  return html.replace(REMOTE_LINK, '');
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
    queues: [...queues].map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Lookout' } },
  });
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by'); // a sub-app of its own: the API's setting does not reach it
  // express keeps registered view engines in app.engines (not in its types).
  const renderFile = (board as unknown as { engines: Record<string, RenderFile | undefined> }).engines['.ejs'];
  if (!renderFile) throw new Error('Bull Board no longer renders with ejs: update withoutRemoteLinks in src/board/bull-board.ts');
  board.engine('ejs', (file, options, done) =>
    renderFile(file, options, (err, html) => done(err, html === undefined ? undefined : withoutRemoteLinks(html))),
  );
  return board;
}
