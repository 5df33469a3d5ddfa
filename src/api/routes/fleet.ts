// /v1/health, /v1/workers, /v1/alerts: what an operator looks at first.
import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { getAlert, listAlerts, silenceAlert } from '../../db/repositories/alerts.js';
import { liveWindowMs, listWorkers } from '../../db/repositories/workers.js';
import { runProbes } from '../../health/probes.js';
import type { Services } from '../../runtime/services.js';
import { notFound } from '../http-errors.js';
import { route, type ApiRoute } from '../route-spec.js';
import { alertListSchema, alertStatusSchema, healthCheckSchema, silenceBodySchema, silencedAlertSchema, workerListSchema } from '../../wire/fleet.js';

const alertsQuery = z.object({ status: alertStatusSchema.optional() }).strict();

export function fleetRoutes(services: Services): ApiRoute[] {
  const { pool, config } = services;
  return [
    route(
      {
        method: 'get',
        path: '/health',
        operationId: 'getHealth',
        summary: 'Every dependency probed now, problems first',
        tag: 'fleet',
        role: 'viewer',
        responses: { 200: { description: 'ok or warn', schema: healthCheckSchema }, 503: { description: 'critical (same body)', schema: healthCheckSchema } },
      },
      async ({ res }) => {
        // Probed now, not read from the last scheduled run: this is the page people reload.
        const check = await runProbes({ redis: services.redis, pool, queues: services.queues, blobs: services.blobs, config, now: () => new Date() });
        res.status(check.status === 'critical' ? 503 : 200).json(check);
      },
    ),
    route(
      {
        method: 'get',
        path: '/workers',
        operationId: 'listWorkers',
        summary: 'Worker processes: live, or missing (no heartbeat)',
        tag: 'fleet',
        role: 'viewer',
        description: 'Stopped and missing workers stay listed for WORKER_HISTORY_HOURS after their last heartbeat, then their rows are dropped.',
        responses: {
          200: {
            description: 'Live workers, and the stopped or missing ones of the last WORKER_HISTORY_HOURS',
            schema: workerListSchema,
          },
        },
      },
      async ({ res }) => {
        res.json({ workers: await listWorkers(pool, liveWindowMs(config.heartbeatMs), config.workerHistoryHours) });
      },
    ),
    route(
      {
        method: 'get',
        path: '/alerts',
        operationId: 'listAlerts',
        summary: 'Alerts, newest first',
        tag: 'fleet',
        role: 'viewer',
        query: alertsQuery,
        responses: { 200: { description: 'Alerts', schema: alertListSchema } },
      },
      async ({ res, query }) => {
        res.json({ alerts: await listAlerts(pool, query.status) });
      },
    ),
    route(
      {
        method: 'post',
        path: '/alerts/:id/silence',
        operationId: 'silenceAlert',
        summary: "Silence an alert's notifications for a while",
        tag: 'fleet',
        role: 'operator',
        params: z.object({ id: z.uuid({ error: 'expected an alert id (a UUID, as GET /v1/alerts lists)' }) }),
        notFound: 'alert',
        body: silenceBodySchema,
        responses: { 200: { description: 'Silenced', schema: silencedAlertSchema } },
      },
      async ({ req, res, params, body }) => {
        const found = await getAlert(pool, params.id);
        if (!found) throw notFound(`alert ${params.id}`);
        const until = new Date(Date.now() + body.minutes * 60_000);
        await silenceAlert(pool, found.id, until, req.principal!.actor);
        await appendAudit(pool, {
          actor: req.principal!.actor,
          action: 'alert.silence',
          target: `alert:${found.id}`,
          details: { minutes: body.minutes, until },
        });
        res.json({ id: found.id, silencedUntil: until });
      },
    ),
  ];
}
