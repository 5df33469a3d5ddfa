// Runs the probes, keeps the result (bounded retention), evaluates the alert
// rules and dispatches the notifications they call for. Also drops the rows
// of workers gone longer than WORKER_HISTORY_HOURS: this job runs on a
// schedule wherever a health worker runs, so the fleet table stays bounded,
// and folds the images rollup's pending changes (migration 0011), so they
// stay about one interval's worth.
import type { Job } from 'bullmq';
import type { Config } from '../../config/config.js';
import { evaluateAlerts } from '../../alerts/evaluate-alerts.js';
import { conditionsFrom } from '../../alerts/rules.js';
import { insertHealthCheck } from '../../db/repositories/health-checks.js';
import { foldImageStats } from '../../db/repositories/image-stats.js';
import { pruneWorkers } from '../../db/repositories/workers.js';
import { runProbes, type ProbeDeps } from '../../health/probes.js';
import { dispatchNotifications, type AlertNotificationDeps } from '../../producers/alert-notifications.js';
import type { JobHandler } from '../job-type.js';

/** What a health check uses: the probes' dependencies, the notifications', and the retention settings. */
export type HealthCheckDeps = ProbeDeps & AlertNotificationDeps & { config: Pick<Config, 'health' | 'workerHistoryHours'> };

export async function runHealthCheck(deps: HealthCheckDeps): Promise<{ status: string; notifications: number }> {
  const check = await runProbes(deps);
  await insertHealthCheck(deps.pool, check, deps.config.health.retentionDays);
  await pruneWorkers(deps.pool, deps.config.workerHistoryHours, deps.now());
  const notifications = await evaluateAlerts(deps.pool, conditionsFrom(check, deps.config.alerts), {
    now: deps.now(),
    repeatMinutes: deps.config.alerts.repeatMinutes,
  });
  await dispatchNotifications(deps, notifications);
  // Keeps the images rollup's pending changes to one probe interval's worth (GET /v1/stats folds the rest).
  await foldImageStats(deps.pool);
  return { status: check.status, notifications: notifications.length };
}

export function createHealthProbeHandler(deps: HealthCheckDeps): JobHandler {
  return (_job: Job) => runHealthCheck(deps);
}
