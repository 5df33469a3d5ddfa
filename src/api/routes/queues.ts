// /v1/queues: list (viewer) and control (operator).
import { Router } from 'express';
import { z } from 'zod';
import type { Services } from '../../runtime/services.js';
import { controlQueue, listQueues, UnknownQueueError } from '../../services/queue-control.js';
import { requireRole } from '../authenticate.js';
import { badRequest, notFound } from '../http-errors.js';

const cleanBody = z
  .object({ state: z.enum(['completed', 'failed']).default('completed'), olderThanMinutes: z.number().int().min(0).max(525_600).default(60) })
  .strict();

export function queuesRouter(services: Services): Router {
  const router = Router();
  const deps = { queues: services.queues, pool: services.pool };

  router.get('/', async (_req, res) => {
    res.json({ queues: await listQueues(services.queues) });
  });

  router.post('/:name/:action', requireRole('operator'), async (req, res) => {
    const action = z.enum(['pause', 'resume', 'retry-failed', 'clean']).safeParse(req.params.action);
    if (!action.success) throw notFound(`action ${String(req.params.action)}`);
    const body = action.data === 'clean' ? cleanBody.safeParse(req.body ?? {}) : { success: true as const, data: undefined };
    if (!body.success) throw badRequest(body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    res.locals.auditTarget = `queue:${String(req.params.name)}`;
    try {
      const options = body.data ? { state: body.data.state, olderThanMs: body.data.olderThanMinutes * 60_000 } : {};
      res.json(await controlQueue(deps, String(req.params.name), action.data, req.principal!.actor, options));
    } catch (err) {
      if (err instanceof UnknownQueueError) throw notFound(`queue ${String(req.params.name)}`);
      throw err;
    }
  });

  return router;
}
