// Restores a backup, audited whatever the outcome. Failures are final (one
// attempt): a restore is something an operator watches, not something to
// repeat behind their back, so a job that ran before (a Bull Board retry, a
// stalled job) is refused. Replacing the live database is refused while
// batches are queued or running (unless allowRunningBatches), checked before
// the safety backup and again when the live database stops serving.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { restoreBackupInto } from '../../backups/restore-backup.js';
import { refuseUnfinished } from '../../backups/unfinished-batches.js';
import { unfinishedBatches } from '../../db/repositories/unfinished-batches.js';
import { databaseNameOf } from '../../db/server-admin.js';
import { runBackup } from '../../backups/run-backup.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { getBackup, insertBackup } from '../../db/repositories/backups.js';
import { grantAppRoleIn, ownerUrlOf, prepareRestoredDatabase } from '../../db/set-up-database.js';
import { decryptionKeys, restoreProgress, type BackupJobDeps } from '../backup-deps.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { isRestorable, type AuditOutcome } from '../../wire/status-lists.js';
import { restore, type RestoreResult } from './definition.js';

/**
 * A restore runs once, for the operator waiting on it. A job run before (a
 * retry from Bull Board, which keeps attemptsMade, or a stalled job picked up
 * again after its worker died, perhaps inside the swap window) is refused
 * before anything is touched: whoever wants it again runs
 * `lookout backup restore` again, and is the actor of that one.
 * @throws Error naming the attempt and the way to restore again
 */
function refuseRerun(job: Job): void {
  const started = job.attemptsStarted ?? 1;
  if (job.attemptsMade > 0 || started > 1) {
    throw new Error(
      `restore job ${job.id} already ran (attempt ${Math.max(job.attemptsMade + 1, started)}): a restore runs once, for the operator waiting on it, ` +
        'never again from a retry or after its worker stopped; check the live database and run `lookout backup restore` again if it is still wanted',
    );
  }
}

export function createRestoreHandler(deps: Pick<BackupJobDeps, 'pool' | 'databaseUrl' | 'databaseOwnerUrl' | 'backup' | 'now'>): JobHandler {
  return async function handleRestore(job: Job): Promise<RestoreResult> {
    const payload = parsePayload(restore, job);
    const now = deps.now();
    const target = payload.targetDatabase ?? `lookout_restored_${now.toISOString().replace(/\D/g, '').slice(0, 14)}`;
    const audit = (outcome: Exclude<AuditOutcome, 'denied'>, details: Record<string, unknown>) =>
      appendAudit(deps.pool, {
        actor: payload.actor,
        action: 'backup.restore',
        target: `backup:${payload.backupId}`,
        outcome,
        details: { target, ...details },
      });
    try {
      refuseRerun(job);
      const backup = await getBackup(deps.pool, payload.backupId);
      if (!backup) throw new Error(`backup ${payload.backupId} does not exist`);
      // Checked by the CLI before enqueuing, and again here: the job is what runs.
      if (!backup.file || !isRestorable(backup.status)) {
        throw new Error(`backup ${payload.backupId} has no finished file to restore (status ${backup.status})`);
      }
      let safetyBackupId: string | undefined;
      const replacing = target === databaseNameOf(deps.databaseUrl) && payload.replaceLive;
      if (replacing && !payload.allowRunningBatches) refuseUnfinished(await unfinishedBatches(deps.pool));
      if (replacing && !payload.skipSafetyBackup) {
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
      // The restore's own audit row (replace-live); prepare adds the migrations it applied before the window reads it.
      const restoreDetails: Record<string, unknown> = { target, ...(safetyBackupId ? { safetyBackupId } : {}) };
      const result = await restoreBackupInto({ databaseUrl: ownerUrlOf(deps), keys: decryptionKeys(deps.backup) }, backup, target, {
        replaceLive: payload.replaceLive,
        allowRunningBatches: payload.allowRunningBatches,
        now,
        audit: { actor: payload.actor, target: `backup:${payload.backupId}`, details: restoreDetails },
        onRestoredBytes: restoreProgress(job, backup.rawBytes),
        // Restored without the dump's grants (--no-acl), as the owner: the application role gets its rights back before the copy
        // takes its name. Replacing the live database, the copy is first brought to this version's schema: the running
        // processes never migrate, and a backup from before an upgrade would leave them a schema they do not know.
        prepare: async (database) => {
          if (!replacing) return void (await grantAppRoleIn(deps, database));
          const { applied } = await prepareRestoredDatabase(deps, database);
          if (applied.length > 0) restoreDetails.migrationsApplied = applied;
        },
      });
      // Replacing the live database wrote its own audit row into the restored
      // database, in the transaction that carried the live trail over.
      if (!result.auditId) await audit('ok', { database: result.database });
      return {
        id: payload.backupId,
        status: 'restored',
        database: result.database,
        ...(result.previous ? { previous: result.previous } : {}),
        ...(safetyBackupId ? { safetyBackupId } : {}),
        ...(result.auditId ? { auditId: result.auditId } : {}),
      };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // After a failed replace-live this pool's connections may have been cut: once more on a fresh one.
      await audit('error', { error: message })
        .catch(() => audit('error', { error: message }))
        .catch(() => undefined);
      throw new UnrecoverableError(message);
    }
  };
}
