// Runs the reconciler from its job scheduler.
import type { Job } from 'bullmq';
import { reconcile } from '../../reconcile/reconcile.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import type { OpsJobDeps } from '../ops-deps.js';
import { reconcileJob } from './definition.js';

export function createReconcileHandler(deps: OpsJobDeps): JobHandler {
  return (job: Job) => {
    const { dryRun } = parsePayload(reconcileJob, job);
    return reconcile(
      { ...deps, onAction: (kind, n) => deps.metrics?.reconcileActions.inc({ kind }, n) },
      { dryRun: Boolean(dryRun) },
    );
  };
}
