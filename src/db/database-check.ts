// Whether the database a command is pointed at is there and ready, told as a
// typed problem rather than a driver stack trace. Only `migrate up` and the
// server processes create or migrate a database; every other command checks
// here first and stops with what to fix.

import pg from 'pg';
import { databaseNameOf } from './server-admin.js';
import { pendingMigrations } from './migrate.js';
import type { Queryable } from './pool.js';

/**
 * - `unreachable`: no server answered at the URL's host and port (refused, unknown host, timeout)
 * - `login_refused`: the server refused the user or password
 * - `missing`: the server has no database of that name
 * - `not_migrated`: the database exists but Lookout's migrations are not (all) applied
 */
export type DatabaseProblem = 'unreachable' | 'login_refused' | 'missing' | 'not_migrated';

export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  constructor(
    readonly problem: DatabaseProblem,
    /** The database name from the URL. */
    readonly database: string,
    /** The driver's own words (an error code or message); never the URL or its password. */
    readonly reason: string,
  ) {
    super(`${problem}: ${reason}`);
  }
}

// Node socket errors and SQLSTATE codes (PostgreSQL manual, Appendix A).
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '57P03']);
const LOGIN_CODES = new Set(['28P01', '28000']); // invalid_password, invalid_authorization_specification

/**
 * Classifies a pg error as one of the database problems, or null when it is
 * something else (a query's own failure). Connection-class SQLSTATEs (08xxx)
 * and pg's own connection timeout count as `unreachable`.
 */
export function classifyDatabaseError(err: unknown): Exclude<DatabaseProblem, 'not_migrated'> | null {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  if (typeof code === 'string') {
    if (code === '3D000') return 'missing'; // invalid_catalog_name
    if (LOGIN_CODES.has(code)) return 'login_refused';
    if (UNREACHABLE_CODES.has(code) || code.startsWith('08')) return 'unreachable';
  }
  if (/timeout expired|Connection terminated/i.test(message)) return 'unreachable';
  // A multi-address host (localhost as ::1 and 127.0.0.1) fails as an AggregateError.
  if (err instanceof AggregateError) return err.errors.map(classifyDatabaseError).find((p) => p !== null) ?? null;
  return null;
}

function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reasonOf(err.errors[0]);
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Resolves when the database answers a trivial query (/readyz's postgres check); rejects with the driver's error. */
export async function pingDatabase(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

/**
 * Connects once to `databaseUrl` and checks every migration is applied.
 * Creates and changes nothing.
 * @param timeoutMs how long to wait for the server to accept the connection
 * @throws DatabaseUnavailableError for each DatabaseProblem; other errors as they come
 */
export async function checkDatabase(databaseUrl: string, { timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<void> {
  const database = databaseNameOf(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: timeoutMs, application_name: 'lookout-check' });
  pool.on('error', () => undefined);
  try {
    // Whatever stops the connection itself (refused, TLS asked of a server
    // without it, a bad startup option in the URL) is a connection problem.
    try {
      (await pool.connect()).release();
    } catch (err) {
      throw new DatabaseUnavailableError(classifyDatabaseError(err) ?? 'unreachable', database, reasonOf(err));
    }
    let pending: string[];
    try {
      pending = await pendingMigrations(pool);
    } catch (err) {
      const problem = classifyDatabaseError(err);
      if (problem) throw new DatabaseUnavailableError(problem, database, reasonOf(err));
      throw err;
    }
    if (pending.length > 0) {
      throw new DatabaseUnavailableError('not_migrated', database, `${pending.length} migration(s) not applied: ${pending.join(', ')}`);
    }
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Wraps a database problem met mid-command (the server went away) in the same typed error; rethrows anything else. */
export function asDatabaseUnavailable(err: unknown, databaseUrl: string): unknown {
  if (err instanceof DatabaseUnavailableError) return err;
  const problem = classifyDatabaseError(err);
  return problem ? new DatabaseUnavailableError(problem, databaseNameOf(databaseUrl), reasonOf(err)) : err;
}
