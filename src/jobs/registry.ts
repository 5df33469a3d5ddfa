// Every job type, registered once. Checked at boot: no job name twice, and
// every queue a process claims has handlers (Immich-style: refuse to start
// rather than leave jobs nobody runs).

import type { Job } from 'bullmq';
import type { JobHandler, JobType } from './job-type.js';
import { detectImage } from './detect-image/definition.js';
import { createDetectImageHandler, type DetectImageDeps } from './detect-image/handler.js';
import { finalizeBatch } from './finalize-batch/definition.js';
import { createFinalizeBatchHandler } from './finalize-batch/handler.js';
import type { BackupJobDeps } from './backup-deps.js';
import { backupRun } from './backup-run/definition.js';
import { createBackupRunHandler } from './backup-run/handler.js';
import { backupVerify } from './backup-verify/definition.js';
import { createBackupVerifyHandler } from './backup-verify/handler.js';
import { restore } from './restore/definition.js';
import { createRestoreHandler } from './restore/handler.js';
import { backupPrune } from './backup-prune/definition.js';
import { createBackupPruneHandler } from './backup-prune/handler.js';
import { retentionPrune } from './retention-prune/definition.js';
import { createRetentionPruneHandler } from './retention-prune/handler.js';

import type { PitrJobDeps } from './pitr-deps.js';
import { pitrBackup } from './pitr-backup/definition.js';
import { createPitrBackupHandler } from './pitr-backup/handler.js';
import { pitrDrill } from './pitr-drill/definition.js';
import { createPitrDrillHandler } from './pitr-drill/handler.js';

import type { OpsJobDeps } from './ops-deps.js';
import { healthProbe } from './health-probe/definition.js';
import { createHealthProbeHandler } from './health-probe/handler.js';
import { webhook } from './webhook/definition.js';
import { createWebhookHandler } from './webhook/handler.js';
import { alertEmail } from './alert-email/definition.js';
import { createAlertEmailHandler } from './alert-email/handler.js';
import { reconcileJob } from './reconcile/definition.js';
import { createReconcileHandler } from './reconcile/handler.js';

export type HandlerDeps = DetectImageDeps & BackupJobDeps & OpsJobDeps & PitrJobDeps;

interface Registration {
  type: JobType;
  createHandler: (deps: HandlerDeps) => JobHandler;
}

export const JOB_TYPES: readonly Registration[] = [
  { type: detectImage, createHandler: createDetectImageHandler },
  { type: finalizeBatch, createHandler: createFinalizeBatchHandler },
  { type: backupRun, createHandler: createBackupRunHandler },
  { type: backupVerify, createHandler: createBackupVerifyHandler },
  { type: restore, createHandler: createRestoreHandler },
  { type: backupPrune, createHandler: createBackupPruneHandler },
  { type: retentionPrune, createHandler: createRetentionPruneHandler },
  { type: healthProbe, createHandler: createHealthProbeHandler },
  { type: webhook, createHandler: createWebhookHandler },
  { type: alertEmail, createHandler: createAlertEmailHandler },
  { type: reconcileJob, createHandler: createReconcileHandler },
  { type: pitrBackup, createHandler: createPitrBackupHandler },
  { type: pitrDrill, createHandler: createPitrDrillHandler },
];

/**
 * Queues whose jobs run one at a time per process whatever the worker's
 * concurrency: backups, verifies and restores compete for the same disk and
 * database, and a restore must not race a backup. The same for the pitr
 * queue: pgBackRest takes one backup of a stanza at a time, and a drill's
 * restore competes with it for the disk.
 */
export const QUEUE_CONCURRENCY_LIMIT: Readonly<Record<string, number>> = { backup: 1, pitr: 1 };

/** Every queue some job type lives on. */
export const KNOWN_QUEUES: readonly string[] = [...new Set(JOB_TYPES.map((r) => r.type.queue))];

export function checkRegistry(registrations: readonly Registration[] = JOB_TYPES): void {
  const seen = new Set<string>();
  for (const { type } of registrations) {
    if (seen.has(type.name)) throw new Error(`job type "${type.name}" is registered twice`);
    seen.add(type.name);
  }
}

/** One processor per claimed queue, dispatching on the job name. */
export function buildProcessors(
  queues: readonly string[],
  deps: HandlerDeps,
  registrations: readonly Registration[] = JOB_TYPES,
): Map<string, (job: Job) => Promise<unknown>> {
  checkRegistry(registrations);
  const processors = new Map<string, (job: Job) => Promise<unknown>>();
  for (const queue of queues) {
    const handlers = new Map(registrations.filter((r) => r.type.queue === queue).map((r) => [r.type.name, r.createHandler(deps)] as const));
    if (handlers.size === 0) {
      throw new Error(`no job type runs on queue "${queue}"; known queues: ${KNOWN_QUEUES.join(', ')}`);
    }
    processors.set(queue, async (job) => {
      const handler = handlers.get(job.name);
      if (!handler) throw new Error(`Failed to find job handler for "${job.name}" on queue "${queue}"`);
      return handler(job);
    });
  }
  return processors;
}
