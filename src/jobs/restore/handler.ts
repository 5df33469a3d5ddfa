// Restores a backup, audited whatever the outcome. Failures are final (one
// attempt): a restore is something an operator watches, not something to
// repeat behind their back.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { restoreBackupInto } from '../../backups/restore-backup.js';
import { databaseNameOf } from '../../db/server-admin.js';
import { runBackup } from '../../backups/run-backup.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { getBackup, insertBackup } from '../../db/repositories/backups.js';
import { grantAppRoleIn, ownerUrlOf } from '../../db/set-up-database.js';
import { decryptionKeys, restoreProgress, type BackupJobDeps } from '../backup-deps.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { restore, type RestoreResult } from './definition.js';

export function createRestoreHandler(deps: BackupJobDeps): JobHandler {
  return async function handleRestore(job: Job): Promise<RestoreResult> {
    const payload = parsePayload(restore, job);
    const now = deps.now();
    const target = payload.targetDatabase ?? `lookout_restored_${now.toISOString().replace(/\D/g, '').slice(0, 14)}`;
    const audit = (outcome: 'ok' | 'error', details: Record<string, unknown>) =>
      appendAudit(deps.pool, { actor: payload.actor, action: 'backup.restore', target: `backup:${payload.backupId}`, outcome, details: { target, ...details } });
    try {
      const backup = await getBackup(deps.pool, payload.backupId);
      if (!backup) throw new Error(`backup ${payload.backupId} does not exist`);
      let safetyBackupId: string | undefined;
      if (target === databaseNameOf(deps.databaseUrl) && payload.replaceLive && !payload.skipSafetyBackup) {
        safetyBackupId = randomUUID();
        await insertBackup(deps.pool, { id: safetyBackupId, trigger: 'safety', actor: payload.actor });
        try {
          await runBackup({ pool: deps.pool, databaseUrl: deps.databaseUrl, dir: deps.backup.dir, key: deps.backup.key, now: deps.now }, safetyBackupId);
        } catch (err) {
          throw new Error(
            `the safety backup of the live database failed, so the restore did not start: ${(err as Error).message} (skipSafetyBackup overrides, at your own risk)`,
          );
        }
      }
      const result = await restoreBackupInto({ databaseUrl: ownerUrlOf(deps), keys: decryptionKeys(deps.backup) }, backup, target, {
        replaceLive: payload.replaceLive,
        now,
        onRestoredBytes: restoreProgress(job, backup.rawBytes),
      });
      // Restored without the dump's grants (--no-acl), as the owner: the application role gets its rights back here.
      await grantAppRoleIn(deps, result.database);
      // After replacing the live database this pool's connections were cut;
      // the audit row goes into the restored database, which is now live.
      const details = { database: result.database, previous: result.previous, safetyBackupId };
      await audit('ok', details).catch(() => audit('ok', details)); // once more on a fresh connection
      return { id: payload.backupId, status: 'restored', database: result.database, ...(result.previous ? { previous: result.previous } : {}), ...(safetyBackupId ? { safetyBackupId } : {}) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await audit('error', { error: message }).catch(() => undefined);
      throw new UnrecoverableError(message);
    }
  };
}
