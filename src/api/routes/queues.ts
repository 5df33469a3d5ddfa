// /v1/queues: list (viewer), control and global concurrency (operator).
import { z } from 'zod';
import type { Services } from '../../runtime/services.js';
import { controlQueue, listQueues, setGlobalConcurrency } from '../../board/queue-control.js';
import { route, type ApiRoute } from '../route-spec.js';
import {
  CLEAN_STATES,
  globalConcurrencyBodySchema,
  globalConcurrencyResultSchema,
  queueActionSchema,
  queueControlResultSchema,
  queueListSchema,
} from '../../wire/queues.js';

const controlParams = z.object({ name: z.string().min(1).max(200).describe('queue name (GET /v1/queues)'), action: queueActionSchema });
const controlBody = z
  .object({
    state: z.enum(CLEAN_STATES).default('completed').describe('clean only: which finished jobs'),
    olderThanMinutes: z.number().int().min(0).max(525_600).default(60).describe('clean only: finished at least this long ago'),
  })
  .strict();
const queueParams = z.object({ name: z.string().min(1).max(200).describe('queue name (GET /v1/queues)') });
const QUEUE_UNAVAILABLE = { description: 'Redis does not answer; nothing was done (queue_unavailable)' };

export function queuesRoutes(services: Services): ApiRoute[] {
  const deps = { queues: services.queues, pool: services.pool, flows: services.flows, prefix: services.config.queuePrefix };
  return [
    route(
      {
        method: 'get',
        path: '/queues',
        operationId: 'listQueues',
        summary: 'Every queue with its job counts and whether it is paused',
        tag: 'queues',
        role: 'viewer',
        responses: { 200: { description: 'Queues', schema: queueListSchema }, 503: QUEUE_UNAVAILABLE },
      },
      async ({ res }) => {
        res.json({ queues: await listQueues(services.queues) });
      },
    ),
    route(
      {
        method: 'post',
        path: '/queues/:name/:action',
        operationId: 'controlQueue',
        summary: 'Pause, resume, retry failed jobs, or clean finished jobs',
        tag: 'queues',
        role: 'operator',
        params: controlParams,
        notFound: 'queue action',
        body: controlBody,
        responses: { 200: { description: 'Done', schema: queueControlResultSchema }, 503: QUEUE_UNAVAILABLE },
      },
      async ({ req, res, params, body }) => {
        res.locals.auditTarget = `queue:${params.name}`;
        // An unknown queue: UnknownQueueError, answered 404 not_found (http-errors.ts).
        const options = params.action === 'clean' ? { state: body.state, olderThanMs: body.olderThanMinutes * 60_000 } : {};
        res.json(await controlQueue(deps, params.name, params.action, req.principal!.actor, options));
      },
    ),
    route(
      {
        method: 'put',
        path: '/queues/:name/concurrency',
        operationId: 'setQueueConcurrency',
        summary: "Set or remove a queue's global concurrency (jobs active at once across all workers)",
        description:
          "BullMQ's global concurrency: running workers obey it without a restart (a raised limit is picked up within about 5 s); each worker's --concurrency stays its own ceiling. 404 for an unknown queue.",
        tag: 'queues',
        role: 'operator',
        params: queueParams,
        notFound: 'queue',
        body: globalConcurrencyBodySchema,
        responses: { 200: { description: 'The limit before and after', schema: globalConcurrencyResultSchema }, 503: QUEUE_UNAVAILABLE },
      },
      async ({ req, res, params, body }) => {
        res.locals.auditTarget = `queue:${params.name}`;
        // An unknown queue: UnknownQueueError, answered 404 not_found (http-errors.ts).
        res.json(await setGlobalConcurrency(deps, params.name, body.concurrency, req.principal!.actor));
      },
    ),
  ];
}
