// Runs a pgBackRest backup and catalogues it; rows of backups pgBackRest
// expired meanwhile become pruned. A failure on the last attempt (or one
// retrying cannot help) marks the row failed. Audited either way.
import { UnrecoverableError, type Job } from 'bullmq';
import { pitrSettings, runPitrBackup } from '../../backups/pitr/backup.js';
import { PitrToolError } from '../../backups/pitr/pgbackrest.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { completePitrBackup, failBackup, insertPitrBackup, markPitrBackupsExpired } from '../../db/repositories/backups.js';
import { backupIdForJob } from '../backup-run/definition.js';
import { isLastAttempt, parsePayload, type JobHandler } from '../job-type.js';
import { scrubSecrets } from '../../text/scrub-secrets.js';
import type { PitrJobDeps } from '../pitr-deps.js';
import { pitrBackup, type PitrBackupResult } from './definition.js';

export function createPitrBackupHandler(deps: PitrJobDeps): JobHandler {
  return async function handlePitrBackup(job: Job): Promise<PitrBackupResult> {
    const payload = parsePayload(pitrBackup, job);
    const id = payload.backupId ?? backupIdForJob(String(job.id));
    await insertPitrBackup(deps.pool, { id, trigger: payload.trigger, actor: payload.actor, type: payload.type });
    try {
      const { backup, held } = await runPitrBackup(pitrSettings(deps.config.pitr), payload.type);
      await completePitrBackup(deps.pool, id, backup);
      const expired = await markPitrBackupsExpired(deps.pool, held);
      await appendAudit(deps.pool, {
        actor: payload.actor,
        action: 'pitr.backup',
        target: `backup:${id}`,
        details: { trigger: payload.trigger, label: backup.label, type: backup.type, storedBytes: backup.storedBytes, expiredBackups: expired },
      });
      return {
        id,
        status: 'succeeded',
        type: backup.type,
        label: backup.label,
        startedAt: backup.startedAt.toISOString(),
        finishedAt: backup.finishedAt.toISOString(),
        bytes: backup.storedBytes,
      };
    } catch (err) {
      // Scrubbed again whatever threw it: it goes to backups.error, the audit log and BullMQ's failedReason.
      const message = err instanceof PitrToolError ? err.message : scrubSecrets(err instanceof Error ? err.message : String(err));
      const permanent = err instanceof PitrToolError && err.permanent;
      if (permanent || isLastAttempt(job)) {
        await failBackup(deps.pool, id, message);
        await appendAudit(deps.pool, { actor: payload.actor, action: 'pitr.backup', target: `backup:${id}`, outcome: 'error', details: { error: message } });
      }
      throw permanent ? new UnrecoverableError(message) : new Error(message);
    }
  };
}
