// Admin routes: API keys and the audit log.
import { Router } from 'express';
import { z } from 'zod';
import { createApiKey, revokeKey } from '../../auth/api-keys.js';
import { listApiKeys, ROLES } from '../../db/repositories/api-keys.js';
import { queryAudit } from '../../db/repositories/audit-log.js';
import type { Services } from '../../runtime/services.js';
import { requireRole } from '../authenticate.js';
import { badRequest, notFound } from '../http-errors.js';

const newKey = z
  .object({
    name: z.string().min(1).max(200),
    role: z.enum(ROLES as unknown as [string, ...string[]]),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();

const auditQuery = z
  .object({
    actor: z.string().max(200).optional(),
    action: z.string().max(200).optional(),
    target: z.string().max(200).optional(),
    outcome: z.enum(['ok', 'error', 'denied']).optional(),
    since: z.coerce.date().optional(),
    until: z.coerce.date().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

export function adminRouter(services: Services): Router {
  const router = Router();
  const admin = requireRole('admin');

  router.get('/keys', admin, async (_req, res) => {
    res.json({ keys: await listApiKeys(services.pool) });
  });

  router.post('/keys', admin, async (req, res) => {
    const body = newKey.safeParse(req.body ?? {});
    if (!body.success) throw badRequest(issues(body.error));
    const { expiresInDays, ...rest } = body.data;
    const key = await createApiKey(services.pool, {
      ...rest,
      role: rest.role as (typeof ROLES)[number],
      actor: req.principal!.actor,
      expiresAt: expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null,
    });
    res.locals.auditTarget = `key:${key.id}`;
    res.status(201).json({ id: key.id, key: key.token });
  });

  router.delete('/keys/:id', admin, async (req, res) => {
    if (!(await revokeKey(services.pool, String(req.params.id), req.principal!.actor))) throw notFound(`active key ${String(req.params.id)}`);
    res.json({ id: req.params.id, revoked: true });
  });

  router.get('/audit', admin, async (req, res) => {
    const query = auditQuery.safeParse(req.query);
    if (!query.success) throw badRequest(issues(query.error));
    res.json({ entries: await queryAudit(services.pool, query.data) });
  });

  return router;
}
