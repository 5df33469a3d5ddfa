// Runs the reconciler from its job scheduler.
import type { Job } from 'bullmq';
import { reconcile, type ReconcileDeps } from '../../producers/reconcile.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import type { OpsJobDeps } from '../ops-deps.js';
import { reconcileJob } from './definition.js';

export function createReconcileHandler(deps: Omit<ReconcileDeps, 'onAction'> & Pick<OpsJobDeps, 'metrics'>): JobHandler {
  return (job: Job) => {
    const { dryRun } = parsePayload(reconcileJob, job);
    return reconcile({ ...deps, onAction: (kind, n) => deps.metrics?.reconcileActions.inc({ kind }, n) }, { dryRun: Boolean(dryRun) });
  };
}
