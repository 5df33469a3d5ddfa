// Review of issue 15, hole 5 (a variant): retrying a COMPLETED job through
// Bull Board re-runs finished work that no Lookout producer asked for again
// (a finished replace-live restore would restore the old backup over the live
// database once more, its audit row naming the original actor, not the admin
// who clicked). Lookout's own API and CLI retry failed jobs only; the board
// may not do more. Refused, with the path and by the job's state, however the
// route is spelled, and by the board's queue adapter whatever the route (so a
// job that completes between the check and the retry is not re-run either).
// Retrying a failed job stays.
import { Worker, type Job, type Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boardQueueAdapter } from '../../src/board/bull-board.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { auditRowOf, boardRequest } from '../helpers/board-requests.js';

let env: TestEnv;
let services: Services;
let url: string;
let admin: string;
let adminKeyId: string;
let backup: Queue;

const restoreData = { backupId: '00000000-0000-4000-8000-000000000000', targetDatabase: 'lookout', replaceLive: true, skipSafetyBackup: true, actor: 'cli' };

beforeAll(async () => {
  env = await createTestEnv('review_board_retry', { RATE_LIMIT_PER_MINUTE: '100000' });
  services = await env.open();
  url = (await env.api(services)).url;
  admin = await env.key(services, 'admin');
  adminKeyId = admin.split('_')[1]!;
  backup = services.queues.get('backup')!;
});
afterAll(() => env.cleanup());

/** Runs every waiting job of the backup queue with a processor of the test's own (never Lookout's handlers) until `ids` are finished. */
async function finish(ids: string[], outcome: 'complete' | 'fail') {
  const done = new Set<string>();
  const worker = new Worker('backup', (job) => (outcome === 'complete' ? Promise.resolve({ ran: job.id }) : Promise.reject(new Error('boom'))), {
    connection: services.workerRedis,
    prefix: env.config.queuePrefix,
  });
  await new Promise<void>((resolve) => {
    const seen = (job: Job | undefined) => {
      if (job?.id && ids.includes(job.id)) done.add(job.id);
      if (done.size === ids.length) resolve();
    };
    worker.on('completed', seen);
    worker.on('failed', seen);
  });
  await worker.close();
}

const board = (method: string, path: string, requestId?: string) => boardRequest(url, admin, method, path, { requestId });
const auditRow = (requestId: string) => auditRowOf(env, requestId);

describe('Bull Board cannot re-run finished work', () => {
  let completed: string[];
  beforeAll(async () => {
    completed = ['done-restore-1', 'done-restore-2'];
    for (const id of completed) await backup.add('restore', restoreData, { jobId: id });
    await finish(completed, 'complete');
    for (const id of completed) expect(await backup.getJobState(id)).toBe('completed');
  });

  it.each([
    ['/api/queues/backup/done-restore-1/retry'],
    ['/API/Queues/backup/done-restore-1/RETRY'],
    ['/api/queues/backup/done-restore-1/retry/'],
    ['/api/queues/%62ackup/done%2Drestore%2D1/retry'],
    ['/api/queues/backup/done-restore-1/retry?state=failed'],
  ])('PUT %s of a completed restore is refused for an admin key, and the job stays completed', async (path) => {
    const res = await board('PUT', path);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('board_write_refused');
    expect(res.body.error.message).toMatch(/^Bull Board may not job\.retry a completed job here/);
    expect(await backup.getJobState('done-restore-1')).toBe('completed');
    expect(await backup.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'paused'])).toEqual([]);
  });

  it.each([['/api/queues/backup/retry/completed'], ['/api/queues/backup/RETRY/completed/'], ['/api/queues/backup/retry/Completed']])(
    'PUT %s (retry all completed) is refused, and every completed job stays completed',
    async (path) => {
      const res = await board('PUT', path);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('board_write_refused');
      expect(res.body.error.message).toMatch(/^Bull Board may not queue\.retry completed jobs here/i);
      for (const id of completed) expect(await backup.getJobState(id)).toBe('completed');
    },
  );

  it('the refusal is audited with the action, queue, job id and the real actor', async () => {
    await board('PUT', '/api/queues/backup/done-restore-2/retry', 'review-retry-completed');
    expect(await auditRow('review-retry-completed')).toMatchObject({
      actor: `key:${adminKeyId}`,
      target: 'job:backup/done-restore-2',
      outcome: 'denied',
      details: { board: { action: 'job.retry', queue: 'backup', jobId: 'done-restore-2' }, status: 403, role: 'admin' },
    });
  });

  it("the board's queue adapter itself refuses to retry a completed job (a job that completed after the route was checked)", async () => {
    const adapter = boardQueueAdapter(backup);
    const job = await adapter.getJob('done-restore-2');
    await expect(job!.retry('completed')).rejects.toThrow(/completed job/);
    const [listed] = (await adapter.getJobs(['completed'])).filter((j) => j.id === 'done-restore-1');
    await expect(listed!.retry('completed')).rejects.toThrow(/completed job/);
    await expect(job!.updateData({ ...restoreData, actor: 'key:0a1b2c3d' })).rejects.toThrow(/change a job's data/);
    expect((await backup.getJob('done-restore-2'))?.data).toEqual(restoreData);
    for (const id of completed) expect(await backup.getJobState(id)).toBe('completed');
    // The guarded jobs still read as before: the board lists them with their data.
    const listing = await board('GET', '/api/queues?activeQueue=backup&status=completed');
    expect(listing.status).toBe(200);
    const listed2 = (listing.body.queues as Array<{ name: string; jobs: Array<{ id: string; data: unknown }> }>).find((q) => q.name === 'backup');
    expect(listed2?.jobs.map((j) => [j.id, j.data]).sort()).toEqual(completed.map((id) => [id, restoreData]));
  });

  it("a job's state is read only for an authenticated request: an anonymous or bogus-key retry costs no Redis lookup", async () => {
    const original = backup.getJobState.bind(backup);
    let lookups = 0;
    backup.getJobState = (id: string) => {
      lookups++;
      return original(id);
    };
    try {
      for (const authorization of [undefined, 'Bearer lk_0a1b2c3d_' + 'A'.repeat(43), 'Bearer nonsense']) {
        const res = await fetch(`${url}/admin/queues/api/queues/backup/done-restore-1/retry`, {
          method: 'PUT',
          headers: authorization ? { authorization } : {},
        });
        expect(res.status).toBe(401);
      }
      expect(lookups).toBe(0);
      expect((await board('PUT', '/api/queues/backup/done-restore-1/retry')).status).toBe(403);
      expect(lookups).toBe(1);
    } finally {
      backup.getJobState = original;
    }
    expect(await backup.getJobState('done-restore-1')).toBe('completed');
  });

  it('retrying a failed job, alone or all failed at once, still works and is audited', async () => {
    const runData = { trigger: 'manual', actor: 'cli' };
    await backup.add('backup-run', runData, { jobId: 'failed-run-1', attempts: 1 });
    await backup.add('backup-run', runData, { jobId: 'failed-run-2', attempts: 1 });
    await finish(['failed-run-1', 'failed-run-2'], 'fail');
    const one = await board('PUT', '/api/queues/backup/failed-run-1/retry', 'review-retry-failed');
    expect(one.status).toBe(204);
    expect(await backup.getJobState('failed-run-1')).toBe('waiting');
    expect((await auditRow('review-retry-failed')).details.board).toEqual({ action: 'job.retry', queue: 'backup', jobId: 'failed-run-1', state: 'failed' });
    const all = await board('PUT', '/api/queues/backup/retry/failed');
    expect(all.status).toBe(200);
    expect(await backup.getJobState('failed-run-2')).toBe('waiting');
    await backup.remove('failed-run-1');
    await backup.remove('failed-run-2');
  });

  it('a failed restore is not retried from the board, alone or with all failed jobs (a restore runs once, as its requester asked)', async () => {
    await backup.add('restore', restoreData, { jobId: 'failed-restore-1', attempts: 1 });
    await finish(['failed-restore-1'], 'fail');
    const one = await board('PUT', '/api/queues/backup/failed-restore-1/retry', 'review-retry-restore');
    expect(one.status).toBe(403);
    expect(JSON.stringify(one.body)).toMatch(/may not retry a restore/);
    expect((await auditRow('review-retry-restore')).outcome).toBe('denied');
    expect((await board('PUT', '/api/queues/backup/retry/failed')).status).toBe(403);
    expect(await backup.getJobState('failed-restore-1')).toBe('failed');
    await backup.remove('failed-restore-1');
  });
});
