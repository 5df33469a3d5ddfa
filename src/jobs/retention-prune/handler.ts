// Runs retention (src/retention/prune.ts) from its job scheduler: its
// progress on the job (Bull Board shows it), its report as the job's result.
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { prune, type PruneDeps, type PruneReport } from '../../retention/prune.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import { retentionPrune } from './definition.js';

export function createRetentionPruneHandler(deps: PruneDeps & { logger: Pick<Logger, 'info'> }): JobHandler {
  return async function handleRetentionPrune(job: Job): Promise<PruneReport> {
    const { actor, olderThanDays } = parsePayload(retentionPrune, job);
    const report = await prune(deps, {
      actor,
      olderThanDays,
      // After each chunk of batches and each page of the orphan sweep.
      onProgress: (progress) => void job.updateProgress({ ...progress }).catch(() => undefined),
    });
    deps.logger.info({ ...report }, 'retention prune done');
    return report;
  };
}
