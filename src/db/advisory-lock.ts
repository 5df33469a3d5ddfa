// Postgres advisory locks: one holder at a time across every
// process on the database (the reconciler, alert evaluation).
import type { Pool, Queryable } from './pool.js';

/** Runs `fn` while holding advisory lock `key` on a connection of its own; waits for the lock. */
export async function withAdvisoryLock<T>(pool: Pool, key: number, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    client.release();
  }
}

/** Takes transaction-level advisory lock `key` on `tx` (inside a transaction): held until it commits or rolls back. */
export async function lockForTransaction(tx: Queryable, key: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [key]);
}
