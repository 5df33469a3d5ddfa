// Bull Board's write API cannot create or change work, even for an admin:
// adding a job (a restore with a forged actor, an alerts-signed webhook to
// loopback), editing a job's data, emptying or obliterating a queue, running
// or changing a scheduler are refused with 403 and nothing changes in Redis,
// however the path is spelled. Retry stays, and every board write's audit
// row names the action, queue, job id and the real actor.
import { Worker, type Job, type Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { auditRowOf, boardRequest } from '../helpers/board-requests.js';

let env: TestEnv;
let services: Services;
let url: string;
let admin: string;
let adminKeyId: string;
let backup: Queue;
let notify: Queue;

beforeAll(async () => {
  env = await createTestEnv('board_writes', { RATE_LIMIT_PER_MINUTE: '100000' });
  services = await env.open();
  url = (await env.api(services)).url;
  admin = await env.key(services, 'admin');
  adminKeyId = admin.split('_')[1]!;
  backup = services.queues.get('backup')!;
  notify = services.queues.get('notify')!;
});
afterAll(() => env.cleanup());

const board = (method: string, path: string, body?: unknown, requestId?: string) => boardRequest(url, admin, method, path, { body, requestId });
const auditRow = (requestId: string) => auditRowOf(env, requestId);

const restore = { name: 'restore', data: { backupId: '00000000-0000-4000-8000-000000000000', targetDatabase: 'forged', actor: 'cli' } };
const alertsHook = { name: 'webhook', data: { url: 'http://127.0.0.1:9/hook', event: 'alert.firing', body: {}, signWith: 'alerts' } };

describe('Bull Board writes that would create or change work', () => {
  it.each([
    ['/api/queues/backup/add', restore],
    ['/api/queues/notify/add', alertsHook],
    ['/API/Queues/backup/ADD', restore],
    ['/api/queues/backup/add/', restore],
    ['/api/queues/%62ackup/add', restore],
  ])('POST %s is refused for an admin key, and no job is created', async (path, body) => {
    const before = { backup: await backup.count(), notify: await notify.count() };
    const res = await board('POST', path, body);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('board_write_refused');
    expect(res.body.error.message).toMatch(/^Bull Board may not job\.add here: jobs are created and changed only by Lookout itself/);
    expect({ backup: await backup.count(), notify: await notify.count() }).toEqual(before);
    expect(await backup.getJobs(['waiting', 'delayed', 'paused', 'prioritized'])).toEqual([]);
  });

  it('update-data, empty, obliterate and the scheduler routes are refused, and the job and queue stay as they were', async () => {
    const job = await notify.add(
      'webhook',
      { url: 'https://hooks.example.test/x', event: 'batch.finished', body: { n: 1 }, signWith: 'batches' },
      { jobId: 'kept' },
    );
    await backup.upsertJobScheduler('nightly-test', { pattern: '0 3 * * *' }, { name: 'backup-run', data: { trigger: 'scheduler', actor: 'scheduler' } });
    const refused: Array<[string, string, unknown, string]> = [
      ['PATCH', `/api/queues/notify/${job.id}/update-data`, { data: { ...job.data, url: 'http://127.0.0.1:9/', signWith: 'alerts' } }, 'job.update-data'],
      ['PUT', '/api/queues/notify/empty', undefined, 'queue.empty'],
      ['PUT', '/api/queues/notify/obliterate', {}, 'queue.obliterate'],
      ['PUT', '/api/queues/backup/job-schedulers/nightly-test/run', undefined, 'scheduler.run'],
      ['PUT', '/api/queues/backup/job-schedulers/nightly-test/remove', undefined, 'scheduler.remove'],
      ['PATCH', '/api/queues/backup/job-schedulers/nightly-test', { every: 1000 }, 'scheduler.update'],
      ['PUT', '/api/queues/detect/concurrency', { concurrency: 1 }, 'queue.set-concurrency'],
    ];
    const counts = { backup: await backup.count(), notify: await notify.count() };
    for (const [method, path, body, action] of refused) {
      const res = await board(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'board_write_refused', message: expect.stringContaining(`may not ${action} here`) });
    }
    const after = await notify.getJob('kept');
    expect(after?.data).toEqual(job.data);
    expect(await notify.getJobState('kept')).toBe('waiting');
    expect((await backup.getJobScheduler('nightly-test'))?.pattern).toBe('0 3 * * *');
    expect(await services.queues.get('detect')!.getGlobalConcurrency()).toBeNull();
    expect({ backup: await backup.count(), notify: await notify.count() }).toEqual(counts);
    await backup.removeJobScheduler('nightly-test');
    await notify.remove('kept');
  });

  it('a refused write is audited with its action, queue and the real actor', async () => {
    await board('POST', '/api/queues/backup/add', restore, 'board-add-1');
    const row = await auditRow('board-add-1');
    expect(row).toMatchObject({
      actor: `key:${adminKeyId}`,
      target: 'queue:backup',
      outcome: 'denied',
      details: { board: { action: 'job.add', queue: 'backup' }, route: 'POST /admin/queues/api/queues/:queueName/add', status: 403, role: 'admin' },
    });
  });
});

describe('Bull Board writes that stay', () => {
  it('retry of a failed job works, and its audit row names the action, queue, job id and actor', async () => {
    const job: Job = await notify.add('webhook', { nonsense: true }, { attempts: 1, jobId: 'to-retry' });
    const worker = new Worker('notify', () => Promise.reject(new Error('boom')), { connection: services.workerRedis, prefix: env.config.queuePrefix });
    await new Promise<void>((resolve) => worker.on('failed', () => resolve()));
    await worker.close();
    expect(await notify.getJobState(String(job.id))).toBe('failed');
    const res = await board('PUT', `/api/queues/notify/${job.id}/retry`, undefined, 'board-retry-1');
    expect(res.status).toBe(204);
    expect(await notify.getJobState(String(job.id))).toBe('waiting');
    const row = await auditRow('board-retry-1');
    expect(row).toMatchObject({
      actor: `key:${adminKeyId}`,
      target: 'job:notify/to-retry',
      outcome: 'ok',
      details: {
        board: { action: 'job.retry', queue: 'notify', jobId: 'to-retry' },
        route: 'PUT /admin/queues/api/queues/:queueName/:jobId/retry',
        role: 'admin',
      },
    });
    await notify.remove('to-retry');
  });

  it('a whole-queue clean names the status it applied to', async () => {
    const res = await board('PUT', '/api/queues/notify/clean/failed', undefined, 'board-clean-1');
    expect(res.status).toBeLessThan(300);
    expect((await auditRow('board-clean-1')).details.board).toEqual({ action: 'queue.clean', queue: 'notify', status: 'failed' });
  });
});
