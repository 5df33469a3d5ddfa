// Admin routes: API keys and the audit log.
import { z } from 'zod';
import { createApiKey, revokeKey } from '../../auth/api-keys.js';
import { listApiKeys } from '../../db/repositories/api-keys.js';
import { queryAudit } from '../../db/repositories/audit-log.js';
import type { Services } from '../../runtime/services.js';
import { notFound } from '../http-errors.js';
import { route, type ApiRoute } from '../route-spec.js';
import { auditEntriesSchema } from '../../wire/audit.js';
import { AUDIT_OUTCOMES } from '../../wire/status-lists.js';
import { createdKeySchema, keyListSchema, newKeySchema, revokedKeySchema } from '../../wire/keys.js';

const auditQuery = z
  .object({
    actor: z.string().max(200).optional(),
    action: z.string().max(200).optional(),
    target: z.string().max(200).optional(),
    outcome: z.enum(AUDIT_OUTCOMES).optional(),
    since: z.coerce.date({ error: 'expected an ISO 8601 time, e.g. 2026-11-29T12:00:00Z' }).optional(),
    until: z.coerce.date({ error: 'expected an ISO 8601 time, e.g. 2026-11-29T12:00:00Z' }).optional(),
    before: z
      .string()
      .regex(/^[1-9][0-9]{0,17}$/, { error: 'expected an audit entry id (a positive integer)' })
      .optional()
      .describe('the last `id` of the previous page: only older entries'),
    limit: z.coerce
      .number({ error: 'expected one whole number from 1 to 1000' })
      .int({ error: 'expected one whole number from 1 to 1000' })
      .min(1)
      .max(1000)
      .default(100),
  })
  .strict();

export function adminRoutes(services: Services): ApiRoute[] {
  const base = { tag: 'admin', role: 'admin' as const };
  return [
    route(
      {
        ...base,
        method: 'get',
        path: '/keys',
        operationId: 'listKeys',
        summary: 'API keys (never their secrets)',
        responses: { 200: { description: 'Keys', schema: keyListSchema } },
      },
      async ({ res }) => {
        res.json({ keys: await listApiKeys(services.pool) });
      },
    ),
    route(
      {
        ...base,
        method: 'post',
        path: '/keys',
        operationId: 'createKey',
        summary: 'Create an API key; its secret is shown once',
        body: newKeySchema,
        responses: { 201: { description: 'Created', schema: createdKeySchema } },
      },
      async ({ req, res, body }) => {
        const { expiresInDays, ...rest } = body;
        const key = await createApiKey(services.pool, {
          ...rest,
          actor: req.principal!.actor,
          expiresAt: expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null,
        });
        res.locals.auditTarget = `key:${key.id}`;
        res.status(201).json({ id: key.id, key: key.token });
      },
    ),
    route(
      {
        ...base,
        method: 'delete',
        path: '/keys/:id',
        operationId: 'revokeKey',
        summary: 'Revoke an API key',
        params: z.object({ id: z.string().min(1).max(200) }),
        notFound: 'key',
        responses: { 200: { description: 'Revoked', schema: revokedKeySchema } },
      },
      async ({ req, res, params }) => {
        if (!(await revokeKey(services.pool, params.id, req.principal!.actor))) throw notFound(`active key ${params.id}`);
        res.json({ id: params.id, revoked: true });
      },
    ),
    route(
      {
        ...base,
        method: 'get',
        path: '/audit',
        operationId: 'queryAudit',
        summary: 'The audit log, filtered, newest first',
        query: auditQuery,
        responses: { 200: { description: 'Entries', schema: auditEntriesSchema } },
      },
      async ({ res, query }) => {
        res.json({ entries: await queryAudit(services.pool, query) });
      },
    ),
  ];
}
