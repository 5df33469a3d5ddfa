// Runs migrations with umzug, each in its own transaction, under a Postgres
// advisory lock so many replicas starting at once migrate exactly once.

import { Umzug, type UmzugStorage } from 'umzug';
import type { Logger } from 'pino';
import type { Pool, PoolClient, Queryable } from './pool.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Migration } from './migrations/migration.js';

const LOCK_KEY = 0x6c6f6f6b; // 'look'
const TABLE = 'lookout_migrations';

function storageOn(client: PoolClient): UmzugStorage {
  return {
    async logMigration({ name }) {
      await client.query(`INSERT INTO ${TABLE} (name) VALUES ($1)`, [name]);
    },
    async unlogMigration({ name }) {
      await client.query(`DELETE FROM ${TABLE} WHERE name = $1`, [name]);
    },
    async executed() {
      const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${TABLE} ORDER BY name`);
      return rows.map((r) => r.name);
    },
  };
}

async function inTransaction(client: PoolClient, work: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await work();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function withMigrator<T>(
  pool: Pool,
  logger: Pick<Logger, 'info'> | undefined,
  work: (umzug: Umzug<PoolClient>) => Promise<T>,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client
      .query(`CREATE TABLE IF NOT EXISTS ${TABLE} (name text PRIMARY KEY, run_at timestamptz NOT NULL DEFAULT now())`)
      .catch((err: { code?: string }) => {
        if (err.code !== '23505' && err.code !== '42P07') throw err; // raced another replica
      });
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    const umzug = new Umzug<PoolClient>({
      context: client,
      storage: storageOn(client),
      logger: undefined,
      migrations: migrations.map((m) => ({
        name: m.name,
        up: ({ context }) => inTransaction(context, () => m.up(context)),
        down: ({ context }) => inTransaction(context, () => m.down(context)),
      })),
    });
    umzug.on('migrated', ({ name }) => logger?.info({ migration: name }, 'migrated up'));
    umzug.on('reverted', ({ name }) => logger?.info({ migration: name }, 'migrated down'));
    try {
      return await work(umzug);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** Applies every pending migration; returns the names applied. */
export async function migrateUp(pool: Pool, logger?: Pick<Logger, 'info'>): Promise<string[]> {
  return withMigrator(pool, logger, async (umzug) => (await umzug.up()).map((m) => m.name));
}

/** Reverts the last `steps` migrations (default one); returns the names reverted. */
export async function migrateDown(pool: Pool, steps = 1, logger?: Pick<Logger, 'info'>): Promise<string[]> {
  return withMigrator(pool, logger, async (umzug) => (await umzug.down({ step: steps })).map((m) => m.name));
}

/** Names of migrations not yet applied (for /readyz); does not take the lock. */
export async function pendingMigrations(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(`SELECT name FROM ${TABLE}`).catch((err: { code?: string }) => {
    if (err.code === '42P01') return { rows: [] as Array<{ name: string }> }; // no table yet
    throw err;
  });
  const applied = new Set(rows.map((r) => r.name));
  return MIGRATIONS.map((m) => m.name).filter((n) => !applied.has(n));
}

/**
 * When Lookout was installed on this database: the time its first migration
 * ran (a restored backup keeps its original install time). Undefined before
 * any migration has run.
 */
export async function installedAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(`SELECT min(run_at) AS at FROM ${TABLE}`).catch((err: { code?: string }) => {
    if (err.code === '42P01') return { rows: [] as Array<{ at: Date | null }> }; // no table yet
    throw err;
  });
  return rows[0]?.at ?? undefined;
}
