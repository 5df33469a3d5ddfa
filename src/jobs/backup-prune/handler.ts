// Prunes what the retention policy lets go: the file and manifest are
// deleted, the row stays as 'pruned' (history), and each prune is audited.
import { rm } from 'node:fs/promises';
import type { Job } from 'bullmq';
import { backupsToPrune } from '../../backups/retention.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { listBackups, markPruned } from '../../db/repositories/backups.js';
import type { BackupJobDeps } from '../backup-deps.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { backupPrune } from './definition.js';

export async function pruneBackups(deps: Pick<BackupJobDeps, 'pool' | 'backup' | 'now'>, actor: string): Promise<string[]> {
  // pgBackRest's backups follow its own retention (repo1-retention-full): not this policy's.
  const all = (await listBackups(deps.pool, 100_000)).filter((b) => b.kind === 'logical');
  const ids = backupsToPrune(all, deps.backup.keep, deps.now());
  for (const id of ids) {
    const backup = all.find((b) => b.id === id)!;
    if (backup.file) {
      await rm(backup.file, { force: true });
      await rm(backup.file.replace(/\.lkb$/, '.json'), { force: true });
    }
    await markPruned(deps.pool, id);
    await appendAudit(deps.pool, { actor, action: 'backup.prune', target: `backup:${id}`, details: { createdAt: backup.createdAt } });
  }
  return ids;
}

export function createBackupPruneHandler(deps: Pick<BackupJobDeps, 'pool' | 'backup' | 'now'>): JobHandler {
  return async function handleBackupPrune(job: Job) {
    const { actor } = parsePayload(backupPrune, job);
    return { pruned: await pruneBackups(deps, actor) };
  };
}
