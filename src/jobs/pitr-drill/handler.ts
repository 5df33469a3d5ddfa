// Runs a restore drill and records it on the catalogue row of the backup it
// restored (a row is added for a backup made outside Lookout): verified with
// RPO, RTO and the copy's row counts, or verify_failed with why. Audited.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { UnrecoverableError, type Job } from 'bullmq';
import { pitrSettings } from '../../backups/pitr/backup.js';
import { DrillFailedError, runDrill } from '../../backups/pitr/drill.js';
import { freePort } from '../../backups/pitr/free-port.js';
import { PitrToolError } from '../../backups/pitr/pgbackrest.js';
import { appendAudit } from '../../db/repositories/audit-log.js';
import { pitrBackupByLabel, recordPitrDrill } from '../../db/repositories/backups.js';
import { readWalArchiving } from '../../db/repositories/wal-archiving.js';
import { databaseNameOf } from '../../db/server-admin.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { scrubSecrets } from '../../text/scrub-secrets.js';
import type { PitrJobDeps } from '../pitr-deps.js';
import { pitrDrill, type PitrDrillResult } from './definition.js';

export function createPitrDrillHandler(deps: PitrJobDeps): JobHandler {
  return async function handlePitrDrill(job: Job): Promise<PitrDrillResult> {
    const payload = parsePayload(pitrDrill, job);
    const added = { id: randomUUID(), trigger: payload.trigger, actor: payload.actor };
    const url = new URL(deps.config.databaseUrl);
    try {
      const r = await runDrill({
        settings: pitrSettings(deps.config.pitr),
        database: databaseNameOf(deps.config.databaseUrl),
        databaseUser: decodeURIComponent(url.username) || os.userInfo().username,
        lastArchivedAt: async () => (await readWalArchiving(deps.pool)).lastArchivedAt,
        now: deps.now,
        freePort,
        onPhase: (phase) => void job.updateProgress({ phase }).catch(() => undefined),
      });
      const row = await pitrBackupByLabel(deps.pool, r.backup, added);
      await recordPitrDrill(deps.pool, row.id, {
        ok: true,
        rpoSeconds: r.rpoSeconds,
        rtoSeconds: r.rtoSeconds,
        recoveredTo: r.recoveredTo,
        rowCounts: r.rowCounts,
      });
      const result: PitrDrillResult = {
        id: row.id,
        label: r.backup.label,
        status: 'verified',
        target: r.target.toISOString(),
        lastArchivedAt: r.lastArchivedAt?.toISOString() ?? null,
        rpoSeconds: r.rpoSeconds,
        rtoSeconds: r.rtoSeconds,
        recoveredTo: r.recoveredTo?.toISOString() ?? null,
        indexesChecked: r.indexesChecked,
        rowCounts: r.rowCounts,
      };
      const { rowCounts, ...details } = result;
      await appendAudit(deps.pool, {
        actor: payload.actor,
        action: 'pitr.drill',
        target: `backup:${row.id}`,
        details: { ...details, trigger: payload.trigger, rows: Object.values(rowCounts).reduce((a, b) => a + b, 0) },
      });
      deps.logger.info({ label: result.label, rpoSeconds: result.rpoSeconds, rtoSeconds: result.rtoSeconds }, 'pitr drill passed');
      return result;
    } catch (err) {
      // Scrubbed again whatever threw it: it goes to the drill's row, the audit log, the worker's log and BullMQ's failedReason.
      const message = err instanceof PitrToolError ? err.message : scrubSecrets(err instanceof Error ? err.message : String(err));
      let target: string | undefined;
      if (err instanceof DrillFailedError && err.backup) {
        const row = await pitrBackupByLabel(deps.pool, err.backup, added);
        await recordPitrDrill(deps.pool, row.id, { ok: false, error: message });
        target = `backup:${row.id}`;
      }
      await appendAudit(deps.pool, {
        actor: payload.actor,
        action: 'pitr.drill',
        ...(target ? { target } : {}),
        outcome: 'error',
        details: { error: message, trigger: payload.trigger },
      });
      deps.logger.error({ err: message }, 'pitr drill failed');
      throw new UnrecoverableError(message);
    }
  };
}
