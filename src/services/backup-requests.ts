// Asking for backup work: the CLI and the API enqueue here and, when asked,
// wait for the ops worker's answer (with its progress).
import { randomUUID } from 'node:crypto';
import { QueueEvents, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import { backupRun, backupRunJobId, type BackupRunPayload } from '../jobs/backup-run/definition.js';
import { backupVerify, backupVerifyJobId } from '../jobs/backup-verify/definition.js';
import { restore } from '../jobs/restore/definition.js';

export async function requestBackup(queue: Queue, actor: string): Promise<{ id: string; job: Job }> {
  const id = randomUUID();
  const data: BackupRunPayload = { backupId: id, trigger: 'manual', actor };
  const job = await queue.add(backupRun.name, data, { ...backupRun.defaultOptions, jobId: backupRunJobId(id) });
  return { id, job };
}

export async function requestVerify(queue: Queue, backupId: string, actor: string): Promise<Job> {
  return queue.add(backupVerify.name, { backupId, actor }, { ...backupVerify.defaultOptions, jobId: backupVerifyJobId(backupId, randomUUID()) });
}

export async function requestRestore(
  queue: Queue,
  input: { backupId: string; targetDatabase?: string; replaceLive: boolean; skipSafetyBackup: boolean; actor: string },
): Promise<Job> {
  return queue.add(restore.name, input, { ...restore.defaultOptions, jobId: `restore_${randomUUID()}` });
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
