// The migrations keep their literal status lists (migrations are history), so
// the one shared list (src/wire/batch-status.ts) is checked against what the
// migrated database enforces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_STATUSES, IMAGE_STATUSES } from '../../src/wire/batch-status.js';
import { ALERT_STATUSES, BACKUP_STATUSES, HEALTH_STATUSES } from '../../src/wire/status-lists.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv('status_lists');
  await env.open();
});

afterAll(async () => {
  await env?.cleanup();
});

/** The values of a table's CHECK (status IN (...)) constraint, in order. */
async function checkedStatuses(table: string): Promise<string[]> {
  const rows = await env.sql<{ def: string }>(
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = $1::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%'`,
    [table],
  );
  expect(rows).toHaveLength(1);
  return [...rows[0]!.def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]!);
}

describe('the status lists the database enforces are the shared ones', () => {
  it('batches.status', async () => {
    expect(await checkedStatuses('batches')).toEqual([...BATCH_STATUSES]);
  });

  it('images.status', async () => {
    expect(await checkedStatuses('images')).toEqual([...IMAGE_STATUSES]);
  });

  it('backups.status', async () => {
    expect(await checkedStatuses('backups')).toEqual([...BACKUP_STATUSES]);
  });

  it('alerts.status', async () => {
    expect(await checkedStatuses('alerts')).toEqual([...ALERT_STATUSES]);
  });

  it('health_checks.status', async () => {
    expect(await checkedStatuses('health_checks')).toEqual([...HEALTH_STATUSES]);
  });
});
