// The pitr schedulers (issue 20): full and differential pgBackRest backups on
// PITR_FULL_CRON and PITR_DIFF_CRON and the weekly drill, upserted by a
// process that consumes the pitr queue when PGBACKREST_CONFIG is set, removed
// when it is not; the reconciler puts a lost one back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { PITR_QUEUE } from '../../src/jobs/pitr-backup/definition.js';
import { reconcile } from '../../src/producers/reconcile.js';
import { syncSchedules } from '../../src/producers/schedule-keeper.js';
import { PITR_SCHEDULER_IDS } from '../../src/producers/schedules.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;

beforeAll(async () => {
  env = await createTestEnv('pitr_schedules', {
    PGBACKREST_CONFIG: '/etc/pgbackrest/pgbackrest.conf',
    BACKUP_SCHEDULES: 'true',
    PITR_FULL_CRON: '15 2 * * 0',
    PITR_DIFF_CRON: '15 2 * * 1-6',
    BACKUP_TIMEZONE: 'Europe/Paris',
  });
  services = await env.open();
});
afterAll(() => env.cleanup());

const schedulers = async () => {
  const queue = services.queues.get(PITR_QUEUE)!;
  const found = await Promise.all(Object.values(PITR_SCHEDULER_IDS).map((id) => queue.getJobScheduler(id)));
  return Object.fromEntries(found.filter((s) => s).map((s) => [s!.key, { pattern: s!.pattern, tz: s!.tz, data: s!.template?.data }]));
};

describe('pitr schedulers', () => {
  it('are upserted with PGBACKREST_CONFIG set, in BACKUP_TIMEZONE', async () => {
    await syncSchedules(services, [PITR_QUEUE]);
    expect(await schedulers()).toEqual({
      'pitr-full-backup': { pattern: '15 2 * * 0', tz: 'Europe/Paris', data: { type: 'full', trigger: 'scheduler', actor: 'scheduler' } },
      'pitr-diff-backup': { pattern: '15 2 * * 1-6', tz: 'Europe/Paris', data: { type: 'diff', trigger: 'scheduler', actor: 'scheduler' } },
      'weekly-pitr-drill': { pattern: '0 6 * * 0', tz: 'Europe/Paris', data: { trigger: 'scheduler', actor: 'scheduler' } },
    });
  });

  it('a lost one is put back by the reconciler', async () => {
    await services.queues.get(PITR_QUEUE)!.removeJobScheduler(PITR_SCHEDULER_IDS.drill);
    const result = await reconcile(services);
    expect(result.restoredSchedulers).toBeGreaterThanOrEqual(1);
    expect(Object.keys(await schedulers()).sort()).toEqual(['pitr-diff-backup', 'pitr-full-backup', 'weekly-pitr-drill']);
  });

  it('are removed where PGBACKREST_CONFIG is not set', async () => {
    await syncSchedules({ ...services, config: loadConfig({ ...env.env, PGBACKREST_CONFIG: '' }) }, [PITR_QUEUE]);
    expect(await schedulers()).toEqual({});
  });
});
