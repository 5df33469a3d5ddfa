// A job's actor is set by Lookout's own producers (the authenticated request's
// key, the CLI, a scheduler), never typed in by a user: the job types that
// audit an actor refuse any other form when the payload is parsed, and the
// restore handler re-checks what the CLI checked before enqueuing (the backup
// has a finished file), so a job that reached Redis some other way does not
// create a database.
import { randomBytes, randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPrune } from '../../src/jobs/backup-prune/definition.js';
import { backupRun } from '../../src/jobs/backup-run/definition.js';
import { backupVerify } from '../../src/jobs/backup-verify/definition.js';
import { parsePayload } from '../../src/jobs/job-type.js';
import { restore } from '../../src/jobs/restore/definition.js';
import { retentionPrune } from '../../src/jobs/retention-prune/definition.js';
import { createRestoreHandler } from '../../src/jobs/restore/handler.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

const BACKUP_ID = '00000000-0000-4000-8000-000000000000';
const TYPES = [
  [backupRun, { trigger: 'manual' }],
  [backupVerify, { backupId: BACKUP_ID }],
  [backupPrune, {}],
  [restore, { backupId: BACKUP_ID }],
  [retentionPrune, { olderThanDays: 30 }],
] as const;

const asJob = (data: unknown) => ({ id: 'j1', data, opts: {}, attemptsMade: 0 }) as unknown as Job;

describe('the actor of a job', () => {
  it.each(TYPES.flatMap(([type, rest]) => ['key:0a1b2c3d', 'cli', 'scheduler', 'system'].map((actor) => [type.name, actor, type, rest] as const)))(
    '%s accepts %s',
    (_name, actor, type, rest) => {
      expect(parsePayload(type, asJob({ ...rest, actor }))).toMatchObject({ actor });
    },
  );

  it.each(
    TYPES.flatMap(([type, rest]) =>
      ['admin', 'key:0A1B2C3D', 'key:abc', 'key:0a1b2c3d9', 'cli ', 'root@host', 'key:0a1b2c3d\nforged'].map(
        (actor) => [type.name, JSON.stringify(actor), type, rest, actor] as const,
      ),
    ),
  )('%s refuses %s, unrecoverably', (name, _shown, type, rest, actor) => {
    const parse = () => parsePayload(type, asJob({ ...rest, actor }));
    expect(parse).toThrow(UnrecoverableError);
    expect(parse).toThrow(`invalid ${name} payload: actor: expected key:<8 hex>, cli, scheduler or system: only Lookout sets who caused a job`);
  });
});

describe('the restore handler re-checks the backup', () => {
  let env: TestEnv;
  let services: Services;
  beforeAll(async () => {
    env = await createTestEnv('job_actors', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    services = await env.open();
  });
  afterAll(() => env.cleanup());

  it.each([
    ['running', null],
    ['failed', null],
    ['pruned', 'gone.lkb'],
  ])('a %s backup is not restored: refused with the reason, audited, no database created', async (status, file) => {
    const id = randomUUID();
    await env.sql(`INSERT INTO backups (id, status, trigger, actor, file) VALUES ($1, $2, 'manual', 'cli', $3)`, [id, status, file]);
    const target = `lookout_refused_${randomBytes(4).toString('hex')}`;
    const handler = createRestoreHandler({
      pool: services.pool,
      databaseOwnerUrl: undefined,
      databaseUrl: env.env.DATABASE_URL!,
      backup: services.config.backup,
      now: () => new Date(),
    });
    const job = {
      id: 'r1',
      data: { backupId: id, targetDatabase: target, actor: 'cli' },
      opts: {},
      attemptsMade: 0,
      updateProgress: () => Promise.resolve(),
    } as unknown as Job;
    const err = await handler(job).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(err!.message).toBe(`backup ${id} has no finished file to restore (status ${status})`);
    expect(await env.sql(`SELECT 1 FROM pg_database WHERE datname = $1`, [target])).toEqual([]);
    const audit = await env.sql<{ actor: string; outcome: string }>(`SELECT actor, outcome FROM audit_log WHERE action = 'backup.restore' AND target = $1`, [
      `backup:${id}`,
    ]);
    expect(audit).toEqual([{ actor: 'cli', outcome: 'error' }]);
  });
});
