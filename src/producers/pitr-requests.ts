// Asking for point-in-time recovery work: `lookout pitr backup` and `lookout
// pitr drill` enqueue here (anywhere Redis is reachable) and wait with
// waitForJob for the pitr worker on the database host.
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { enqueue, type Queues } from '../jobs/enqueue.js';
import { pitrBackup, type PitrBackupPayload } from '../jobs/pitr-backup/definition.js';
import { pitrDrill } from '../jobs/pitr-drill/definition.js';

/** Enqueues a manual pitr-backup of `type`; returns the catalogue id it will have and its job. */
export async function requestPitrBackup(queues: Queues, type: PitrBackupPayload['type'], actor: string): Promise<{ id: string; job: Job }> {
  const id = randomUUID();
  const job = await enqueue(queues, pitrBackup, { backupId: id, type, trigger: 'manual', actor });
  return { id, job };
}

/** Enqueues a manual restore drill. */
export async function requestPitrDrill(queues: Queues, actor: string): Promise<Job> {
  return enqueue(queues, pitrDrill, { drillId: randomUUID(), trigger: 'manual', actor });
}
