// Retention with an injected clock: the pure policy, then the prune job's
// effect on the catalogue and the files; and the backup schedules' sync.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupsToPrune, type RetainableBackup } from '../../src/backups/retention.js';
import { pruneBackups } from '../../src/jobs/backup-prune/handler.js';
import { SCHEDULER_IDS, syncBackupSchedules } from '../../src/producers/schedules.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { pino } from 'pino';

const NOW = new Date('2026-11-29T12:00:00Z'); // a Sunday
const POLICY = { daily: 3, weekly: 2, monthly: 2 };
const at = (iso: string) => new Date(iso);

/** A backup every day at 03:00 for 90 days, one more today at 10:00, one verified long ago. */
function history(): RetainableBackup[] {
  const backups: RetainableBackup[] = [];
  for (let d = 0; d < 90; d++) {
    const createdAt = new Date(Date.UTC(2026, 10, 29 - d, 3));
    backups.push({ id: createdAt.toISOString().slice(0, 10), status: 'succeeded', createdAt });
  }
  backups.push({ id: 'today-late', status: 'succeeded', createdAt: at('2026-11-29T10:00:00Z') });
  backups.find((b) => b.id === '2026-10-10')!.status = 'verified';
  backups.push({ id: 'running', status: 'running', createdAt: at('2026-11-29T11:00:00Z') });
  backups.push({ id: 'failed', status: 'failed', createdAt: at('2026-09-01T03:00:00Z') });
  backups.push({ id: 'future', status: 'succeeded', createdAt: at('2026-12-01T03:00:00Z') });
  return backups;
}

describe('backupsToPrune', () => {
  it('keeps the newest of each of the last N days, weeks and months, and the newest verified', () => {
    const all = history();
    const pruned = new Set(backupsToPrune(all, POLICY, NOW));
    const kept = all
      .filter((b) => !pruned.has(b.id))
      .map((b) => b.id)
      .sort();
    expect(kept).toEqual([
      '2026-10-10', // newest verified
      '2026-10-31', // month: October
      '2026-11-22', // week: 16-22 November
      '2026-11-27', // day
      '2026-11-28', // day
      'failed', // failed ones are left for investigation
      'future', // after the injected clock: not considered
      'running', // never prune what is running
      'today-late', // day, week and month: 29 November
    ]);
    expect(pruned.has('2026-11-29')).toBe(true); // the earlier one of today
  });

  it('a later clock moves the windows', () => {
    const pruned = new Set(backupsToPrune(history(), POLICY, at('2026-12-02T12:00:00Z')));
    expect(pruned.has('future')).toBe(false); // now the newest day: 1 December
    expect(pruned.has('2026-11-28')).toBe(false); // third newest day
    expect(pruned.has('2026-11-27')).toBe(true); // kept at NOW, out of the window now
  });

  it('never prunes the newest verified backup, even with a policy of zero', () => {
    const pruned = backupsToPrune(history(), { daily: 0, weekly: 0, monthly: 0 }, NOW);
    expect(pruned).not.toContain('2026-10-10');
    expect(pruned).toContain('today-late');
  });
});

describe('the prune job on a real catalogue', () => {
  let env: TestEnv;
  let services: Services;
  beforeAll(async () => {
    env = await createTestEnv('retention');
    services = await env.open();
  });
  afterAll(() => env.cleanup());

  it('deletes the files of pruned backups, marks them pruned and audits each', async () => {
    const dir = env.config.backup.dir;
    await mkdir(dir, { recursive: true });
    const rows = history().filter((b) => b.status !== 'running');
    const ids = new Map<string, string>();
    for (const b of rows) {
      const id = randomUUID();
      ids.set(b.id, id);
      const file = path.join(dir, `lookout-${b.id}-${id}.lkb`);
      await writeFile(file, 'x');
      await writeFile(file.replace(/\.lkb$/, '.json'), '{}');
      await env.sql(`INSERT INTO backups (id, status, trigger, actor, file, created_at) VALUES ($1, $2, 'scheduler', 'scheduler', $3, $4)`, [
        id,
        b.status,
        file,
        b.createdAt,
      ]);
    }
    const pruned = await pruneBackups({ pool: services.pool, backup: { ...env.config.backup, keep: POLICY }, now: () => NOW }, 'scheduler');
    const expected = backupsToPrune(rows, POLICY, NOW)
      .map((k) => ids.get(k))
      .sort();
    expect([...pruned].sort()).toEqual(expected);
    expect(pruned).toHaveLength(rows.length - 8);
    const left = await readdir(dir);
    expect(left).toHaveLength(8 * 2);
    const statuses = await env.sql<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM backups GROUP BY status ORDER BY status`);
    expect(statuses).toEqual([
      { status: 'failed', n: 1 },
      { status: 'pruned', n: pruned.length },
      { status: 'succeeded', n: 6 },
      { status: 'verified', n: 1 },
    ]);
    const audits = await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'backup.prune'`);
    expect(audits[0]?.n).toBe(pruned.length);
    // Idempotent: a second run prunes nothing more.
    expect(await pruneBackups({ pool: services.pool, backup: { ...env.config.backup, keep: POLICY }, now: () => NOW }, 'scheduler')).toEqual([]);
  });

  it('schedules are upserted idempotently, and removed when off or without a key', async () => {
    const queue = services.queues.get('backup')!;
    const logger = pino({ level: 'silent' });
    const config = { ...env.config.backup, schedules: true, key: Buffer.alloc(32, 7), cron: '0 2 * * *', pruneCron: '0 5 * * 0' };
    await syncBackupSchedules(services.queues, config, logger);
    await syncBackupSchedules(services.queues, config, logger);
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.pattern, s.name]).sort()).toEqual([
      [SCHEDULER_IDS.backup, '0 2 * * *', 'backup-run'],
      [SCHEDULER_IDS.prune, '0 5 * * 0', 'backup-prune'],
    ]);
    await syncBackupSchedules(services.queues, { ...config, cron: '15 1 * * *' }, logger);
    expect((await queue.getJobScheduler(SCHEDULER_IDS.backup))?.pattern).toBe('15 1 * * *');
    await syncBackupSchedules(services.queues, { ...config, key: undefined }, logger);
    expect(await queue.getJobSchedulers()).toEqual([]);
  });
});
