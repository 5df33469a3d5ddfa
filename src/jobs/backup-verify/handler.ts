// Verifies a backup by a real restore. A bad backup is an answer
// (verify_failed, audited), not a job failure; trouble reaching Postgres is.
import { UnrecoverableError, type Job } from 'bullmq';
import { BackupIntegrityError } from '../../backups/backup-crypto.js';
import { PgToolError } from '../../backups/pg-tools.js';
import { verifyBackupFile } from '../../backups/restore-backup.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { getBackup, recordVerification } from '../../db/repositories/backups.js';
import { ownerUrlOf } from '../../db/set-up-database.js';
import { decryptionKeys, restoreProgress, type BackupJobDeps } from '../backup-deps.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { backupVerify, type BackupVerifyResult } from './definition.js';

export function createBackupVerifyHandler(deps: Pick<BackupJobDeps, 'pool' | 'databaseUrl' | 'databaseOwnerUrl' | 'backup'>): JobHandler {
  return async function handleBackupVerify(job: Job): Promise<BackupVerifyResult> {
    const { backupId, actor } = parsePayload(backupVerify, job);
    const backup = await getBackup(deps.pool, backupId);
    if (!backup) throw new UnrecoverableError(`backup ${backupId} does not exist`);
    // Nothing to verify (never finished, or pruned): its status and error stay as they are.
    if (!backup.file || backup.status === 'running' || backup.status === 'failed' || backup.status === 'pruned') {
      throw new UnrecoverableError(`backup ${backupId} has no finished file to verify (status ${backup.status})`);
    }
    let error: string | undefined;
    try {
      await verifyBackupFile({ databaseUrl: ownerUrlOf(deps), keys: decryptionKeys(deps.backup) }, backup, restoreProgress(job, backup.rawBytes));
    } catch (err) {
      if (!(err instanceof BackupIntegrityError || err instanceof PgToolError)) throw err;
      error = err.message;
    }
    await recordVerification(deps.pool, backupId, !error, error);
    await appendAudit(deps.pool, {
      actor,
      action: 'backup.verify',
      target: `backup:${backupId}`,
      outcome: error ? 'error' : 'ok',
      details: error ? { error } : {},
    });
    return error ? { id: backupId, status: 'verify_failed', error } : { id: backupId, status: 'verified' };
  };
}
