// /v1/backups: start a backup, list the catalogue, verify one (operator).
import { Router } from 'express';
import { z } from 'zod';
import { getBackup, listBackups, type BackupRecord } from '../../db/repositories/backups.js';
import { BACKUP_QUEUE } from '../../jobs/backup-run/definition.js';
import type { Services } from '../../runtime/services.js';
import { requestBackup, requestVerify } from '../../services/backup-requests.js';
import { requireRole } from '../authenticate.js';
import { ApiError, notFound } from '../http-errors.js';

const view = (b: BackupRecord) => ({
  id: b.id,
  status: b.status,
  trigger: b.trigger,
  createdAt: b.createdAt,
  finishedAt: b.finishedAt,
  verifiedAt: b.verifiedAt,
  file: b.file,
  bytes: b.storedBytes,
  sha256: b.sha256,
  error: b.error,
});

export function backupsRouter(services: Services): Router {
  const router = Router();
  const queue = services.queues.get(BACKUP_QUEUE)!;
  router.use(requireRole('operator'));

  router.post('/', async (req, res) => {
    if (!services.config.backup.key) throw new ApiError(503, 'backups_disabled', 'BACKUP_ENCRYPTION_KEY is not set on the server');
    const { id, job } = await requestBackup(queue, req.principal!.actor);
    res.status(202).location(`/v1/backups/${id}`).json({ id, status: 'queued', jobId: job.id });
  });

  router.get('/', async (_req, res) => {
    res.json({ backups: (await listBackups(services.pool)).map(view) });
  });

  router.get('/:id', async (req, res) => {
    const id = z.uuid().safeParse(req.params.id);
    const backup = id.success ? await getBackup(services.pool, id.data) : undefined;
    if (!backup) throw notFound(`backup ${req.params.id}`);
    res.json(view(backup));
  });

  router.post('/:id/verify', async (req, res) => {
    const id = z.uuid().safeParse(req.params.id);
    const backup = id.success ? await getBackup(services.pool, id.data) : undefined;
    if (!backup) throw notFound(`backup ${req.params.id}`);
    const job = await requestVerify(queue, backup.id, req.principal!.actor);
    res.status(202).json({ id: backup.id, status: 'verifying', jobId: job.id });
  });

  return router;
}
