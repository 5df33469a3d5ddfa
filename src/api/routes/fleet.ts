// /v1/health, /v1/workers, /v1/alerts: what an operator looks at first.
import { Router } from 'express';
import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { getAlert, listAlerts, silenceAlert } from '../../db/repositories/alerts.js';
import { liveWindowMs, listWorkers } from '../../db/repositories/workers.js';
import { runProbes } from '../../health/probes.js';
import type { Services } from '../../runtime/services.js';
import { requireRole } from '../authenticate.js';
import { badRequest, notFound } from '../http-errors.js';

const silenceBody = z.object({ minutes: z.number().int().min(1).max(60 * 24 * 30).default(60) }).strict();
const alertStatus = z.enum(['pending', 'firing', 'resolved']).optional();

export function fleetRouter(services: Services): Router {
  const router = Router();
  const { pool, config } = services;

  router.get('/health', async (_req, res) => {
    // Probed now, not read from the last scheduled run: this is the page people reload.
    const check = await runProbes({ redis: services.redis, pool, queues: services.queues, config, now: () => new Date() });
    res.status(check.status === 'critical' ? 503 : 200).json(check);
  });

  router.get('/workers', async (_req, res) => {
    res.json({ workers: await listWorkers(pool, liveWindowMs(config.heartbeatMs)) });
  });

  router.get('/alerts', async (req, res) => {
    const status = alertStatus.safeParse(req.query.status);
    if (!status.success) throw badRequest('status must be pending, firing or resolved');
    res.json({ alerts: await listAlerts(pool, status.data) });
  });

  router.post('/alerts/:id/silence', requireRole('operator'), async (req, res) => {
    const id = z.uuid().safeParse(req.params.id);
    const alert = id.success ? await getAlert(pool, id.data) : undefined;
    if (!alert) throw notFound(`alert ${String(req.params.id)}`);
    const body = silenceBody.safeParse(req.body ?? {});
    if (!body.success) throw badRequest(body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const until = new Date(Date.now() + body.data.minutes * 60_000);
    await silenceAlert(pool, alert.id, until, req.principal!.actor);
    await appendAudit(pool, { actor: req.principal!.actor, action: 'alert.silence', target: `alert:${alert.id}`, details: { minutes: body.data.minutes, until } });
    res.json({ id: alert.id, silencedUntil: until });
  });

  return router;
}
