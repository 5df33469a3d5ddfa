// Asking for backup work: the CLI and the API enqueue here and, when asked,
// wait for the ops worker's answer (with its progress).
import { randomUUID } from 'node:crypto';
import { QueueEvents, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import type { z } from 'zod';
import { backupRun, type BackupRunPayload } from '../jobs/backup-run/definition.js';
import { backupVerify } from '../jobs/backup-verify/definition.js';
import { enqueue, InvalidJobPayloadError, type Queues } from '../jobs/enqueue.js';
import type { JobType } from '../jobs/job-type.js';
import { restore, type restorePayload } from '../jobs/restore/definition.js';
import { BACKUPS_OFF } from '../config/config-warnings.js';
import type { BackupConfig } from '../config/config.js';
import type { BackupRecord } from '../db/repositories/backups.js';
import { decryptionKeys } from '../jobs/backup-deps.js';
import { isRestorable } from '../wire/status-lists.js';

/** A request the job would refuse (a backup id that is not a UUID): nothing was enqueued. */
export class InvalidBackupRequestError extends Error {
  override name = 'InvalidBackupRequestError';
}

/** Backups are off (no BACKUP_ENCRYPTION_KEY, no old keys): nothing can be backed up, verified or restored. Nothing was enqueued. */
export class BackupsDisabledError extends Error {
  override name = 'BackupsDisabledError';
  constructor() {
    super(BACKUPS_OFF);
  }
}

/** The backup has no finished file to verify or restore (running, failed or pruned). Nothing was enqueued. */
export class BackupUnusableError extends Error {
  override name = 'BackupUnusableError';
}

/**
 * Checks that `backup` can be verified or restored with `backupConfig`, before anything is enqueued.
 * @throws BackupsDisabledError when no key is configured to decrypt anything
 * @throws BackupUnusableError when the backup has no finished file, or is pgBackRest's (kind pitr: `lookout pitr restore` restores those)
 */
export function checkRestorable(backup: Pick<BackupRecord, 'id' | 'status' | 'file' | 'kind'>, backupConfig: BackupConfig): void {
  if (backup.kind === 'pitr') {
    throw new BackupUnusableError(
      `backup ${backup.id} is a point-in-time (pgBackRest) backup of the cluster, not a file of Lookout's: restore it with lookout pitr restore --to TIME --pg-data DIR on the database host`,
    );
  }
  if (decryptionKeys(backupConfig).length === 0) throw new BackupsDisabledError();
  if (!backup.file || !isRestorable(backup.status)) {
    throw new BackupUnusableError(
      `backup ${backup.id} has no finished file to verify or restore (status ${backup.status}); lookout backup list shows the usable ones`,
    );
  }
}

/** Through the one door, onto the backup queue; a payload the job would refuse is an InvalidBackupRequestError. */
async function enqueueChecked<P extends z.ZodType>(queues: Queues, type: JobType<P>, payload: z.input<P>): Promise<Job> {
  try {
    return await enqueue(queues, type, payload);
  } catch (err) {
    if (err instanceof InvalidJobPayloadError) throw new InvalidBackupRequestError(err.message);
    throw err;
  }
}

/** Enqueues a manual backup-run; returns the new backup's id and its job. */
export async function requestBackup(queues: Queues, actor: string): Promise<{ id: string; job: Job }> {
  const id = randomUUID();
  const data: BackupRunPayload = { backupId: id, trigger: 'manual', actor };
  const job = await enqueueChecked(queues, backupRun, data);
  return { id, job };
}

/** Enqueues a verify of `backupId` (a job id of its own: asking again verifies again). Throws InvalidBackupRequestError (nothing enqueued) when it is not a UUID. */
export async function requestVerify(queues: Queues, backupId: string, actor: string): Promise<Job> {
  return enqueueChecked(queues, backupVerify, { backupId, actor });
}

/** Enqueues a restore. Throws InvalidBackupRequestError (nothing enqueued) for a malformed id or database name. */
export async function requestRestore(queues: Queues, input: z.input<typeof restorePayload>): Promise<Job> {
  return enqueueChecked(queues, restore, input);
}

export class NoWorkerError extends Error {}

/**
 * Waits for a job's result, reporting progress. Refuses to wait forever when
 * no worker consumes the queue.
 */
export async function waitForJob<T>(
  queue: Queue,
  job: Job,
  connection: ConnectionOptions,
  options: { timeoutMs: number; onProgress?: (progress: unknown) => void },
): Promise<T> {
  const events = new QueueEvents(queue.name, { connection, prefix: queue.opts.prefix });
  try {
    await events.waitUntilReady();
    if ((await queue.getWorkersCount()) === 0) {
      throw new NoWorkerError(`no worker consumes the "${queue.name}" queue: start "lookout all" or "lookout worker --queues ${queue.name}"`);
    }
    if (options.onProgress) {
      events.on('progress', ({ jobId, data }) => {
        if (jobId === job.id) options.onProgress!(data);
      });
    }
    return (await job.waitUntilFinished(events, options.timeoutMs)) as T;
  } finally {
    await events.close();
  }
}
