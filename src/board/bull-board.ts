// Bull Board at /admin/queues over every Lookout queue (admin only; the key
// works as a Bearer token or as the HTTP Basic password for browsers).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const BOARD_PATH = '/admin/queues';

export function bullBoardRouter(queues: Iterable<Queue>): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [...queues].map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Lookout' } },
  });
  return serverAdapter.getRouter() as Router;
}
