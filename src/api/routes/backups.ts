// /v1/backups: start a backup, list the catalogue, read and verify one (operator).
import { z } from 'zod';
import { backupSummary, getBackup, listBackups } from '../../db/repositories/backups.js';
import type { Services } from '../../runtime/services.js';
import { BackupsDisabledError, checkRestorable, requestBackup, requestVerify } from '../../producers/backup-requests.js';
import { notFound } from '../http-errors.js';
import { route, type ApiRoute } from '../route-spec.js';
import { backupListSchema, backupStartedSchema, backupViewSchema } from '../../wire/backups.js';

const backupId = z.object({ id: z.uuid({ error: 'expected a backup id (a UUID, as GET /v1/backups lists)' }) });

export function backupsRoutes(services: Services): ApiRoute[] {
  const base = { tag: 'backups', role: 'operator' as const };

  return [
    route(
      {
        ...base,
        method: 'post',
        path: '/backups',
        operationId: 'startBackup',
        summary: 'Start a backup now (dump, compress, encrypt, verify)',
        responses: {
          202: { description: 'Queued; Location is the backup', schema: backupStartedSchema },
          503: { description: 'BACKUP_ENCRYPTION_KEY is not set (backups_disabled), or Redis does not answer (queue_unavailable)' },
        },
      },
      async ({ req, res }) => {
        if (!services.config.backup.key) throw new BackupsDisabledError(); // 503 backups_disabled (http-errors.ts)
        const { id, job } = await requestBackup(services.queues, req.principal!.actor);
        res.status(202).location(`/v1/backups/${id}`).json({ id, status: 'queued', jobId: job.id });
      },
    ),
    route(
      {
        ...base,
        method: 'get',
        path: '/backups',
        operationId: 'listBackups',
        summary: 'The backup catalogue, newest first',
        responses: { 200: { description: 'Backups', schema: backupListSchema } },
      },
      async ({ res }) => {
        res.json({ backups: (await listBackups(services.pool)).map(backupSummary) });
      },
    ),
    route(
      {
        ...base,
        method: 'get',
        path: '/backups/:id',
        operationId: 'getBackup',
        summary: 'One backup',
        params: backupId,
        notFound: 'backup',
        responses: { 200: { description: 'The backup', schema: backupViewSchema } },
      },
      async ({ res, params }) => {
        const backup = await getBackup(services.pool, params.id);
        if (!backup) throw notFound(`backup ${params.id}`);
        res.json(backupSummary(backup));
      },
    ),
    route(
      {
        ...base,
        method: 'post',
        path: '/backups/:id/verify',
        operationId: 'verifyBackup',
        summary: 'Verify a backup by a real restore into a scratch database',
        params: backupId,
        notFound: 'backup',
        responses: {
          202: { description: 'Verification queued', schema: backupStartedSchema },
          409: { description: 'The backup has no finished file (running, failed or pruned): backup_unusable; nothing was done' },
          503: { description: 'Backups are off (backups_disabled), or Redis does not answer (queue_unavailable); nothing was done' },
        },
      },
      async ({ req, res, params }) => {
        const backup = await getBackup(services.pool, params.id);
        if (!backup) throw notFound(`backup ${params.id}`);
        checkRestorable(backup, services.config.backup);
        const job = await requestVerify(services.queues, backup.id, req.principal!.actor);
        res.status(202).json({ id: backup.id, status: 'verifying', jobId: job.id });
      },
    ),
  ];
}
