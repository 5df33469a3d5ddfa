// Runs a backup; a failure on the last attempt marks the row failed (never
// succeeded), and a success enqueues its verify when configured.
import { UnrecoverableError, type Job } from 'bullmq';
import { BackupConfigError, runBackup } from '../../backups/run-backup.js';
import { PgToolError } from '../../backups/pg-tools.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { failBackup, insertBackup } from '../../db/repositories/backups.js';
import type { BackupJobDeps } from '../backup-deps.js';
import { backupVerify } from '../backup-verify/definition.js';
import { enqueue } from '../enqueue.js';
import { isLastAttempt, parsePayload, type JobHandler } from '../job-type.js';
import { backupIdForJob, backupRun, type BackupRunResult } from './definition.js';

export function createBackupRunHandler(deps: Pick<BackupJobDeps, 'pool' | 'databaseUrl' | 'backup' | 'now' | 'queues'>): JobHandler {
  return async function handleBackupRun(job: Job): Promise<BackupRunResult> {
    const payload = parsePayload(backupRun, job);
    const id = payload.backupId ?? backupIdForJob(String(job.id));
    await insertBackup(deps.pool, { id, trigger: payload.trigger, actor: payload.actor });
    try {
      const result = await runBackup(
        { pool: deps.pool, databaseUrl: deps.databaseUrl, dir: deps.backup.dir, key: deps.backup.key, now: deps.now },
        id,
        (p) => void job.updateProgress({ ...p }).catch(() => undefined),
      );
      await appendAudit(deps.pool, {
        actor: payload.actor,
        action: 'backup.run',
        target: `backup:${id}`,
        details: { trigger: payload.trigger, file: result.file, storedBytes: result.storedBytes, sha256: result.sha256 },
      });
      if (deps.backup.verifyAfter) {
        await enqueue(deps.queues, backupVerify, { backupId: id, actor: payload.actor }, { occasion: 'after-run' });
      }
      return { id, status: 'succeeded', file: result.file, bytes: result.storedBytes, sha256: result.sha256 };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const permanent = err instanceof BackupConfigError || (err instanceof PgToolError && err.permanent);
      if (permanent || isLastAttempt(job)) {
        await failBackup(deps.pool, id, message);
        await appendAudit(deps.pool, { actor: payload.actor, action: 'backup.run', target: `backup:${id}`, outcome: 'error', details: { error: message } });
      }
      throw permanent ? new UnrecoverableError(message) : err;
    }
  };
}
