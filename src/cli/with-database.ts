// The database and a logger for one CLI command: the database checked before
// use (reachable, present, migrated), never created or migrated here (only
// `migrate up` and the server processes do that), and every problem turned
// into a CliError that names the database, where it was looked for, and how
// to fix it. The logger writes on stderr (command-logger.ts).

import type { Config } from '../config/config.js';
import { maskUrl } from '../config/mask-secrets.js';
import { RoleSplitError } from '../db/app-role-grants.js';
import { asDatabaseUnavailable, checkDatabase, DatabaseUnavailableError } from '../db/database-check.js';
import { createPool, type Pool } from '../db/pool.js';
import type { Logger } from 'pino';
import { CliError } from './cli-error.js';
import { commandLogger } from './command-logger.js';

const FIX_BY_MIGRATING =
  'Create it and its tables with `npx lookout migrate up` (or start the server, `npx lookout all`, which does the same), or point DATABASE_URL at the right database.';

/**
 * One sentence on what is wrong with the database at `databaseUrl` and what to do; the password is masked.
 * @param variable the setting the URL came from (DATABASE_OWNER_URL for the owner's connection)
 */
export function explainDatabaseProblem(err: DatabaseUnavailableError, databaseUrl: string, variable = 'DATABASE_URL'): string {
  const url = new URL(databaseUrl);
  const where = `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  const shown = `${variable}=${maskUrl(databaseUrl)}`;
  switch (err.problem) {
    case 'missing':
      return `database "${err.database}" does not exist on the PostgreSQL server at ${where} (${shown}). ${FIX_BY_MIGRATING}`;
    case 'not_migrated':
      return `database "${err.database}" at ${where} has no up-to-date Lookout schema (${err.reason}; ${shown}). ${FIX_BY_MIGRATING}`;
    case 'login_refused':
      return `the PostgreSQL server at ${where} refused the login of user "${decodeURIComponent(url.username) || 'default'}" to database "${err.database}" (${err.reason}; ${shown}). Check the user and password in ${variable}.`;
    case 'unreachable':
      return `cannot reach the PostgreSQL server at ${where} for database "${err.database}" (${err.reason}; ${shown}). Is the server running, and is ${variable} right?`;
  }
}

/**
 * Maps a database problem (checked, or met mid-command) or a role split that
 * is no boundary to a CliError; returns anything else unchanged.
 */
export function databaseCliError(err: unknown, databaseUrl: string, variable = 'DATABASE_URL'): unknown {
  if (err instanceof RoleSplitError) return new CliError(err.message);
  const problem = asDatabaseUnavailable(err, databaseUrl);
  return problem instanceof DatabaseUnavailableError ? new CliError(explainDatabaseProblem(problem, databaseUrl, variable)) : err;
}

/** The connection for work that needs the owner's rights, and the setting it came from. */
export function ownerConnection(config: Pick<Config, 'databaseUrl' | 'databaseOwnerUrl'>): { url: string; variable: string } {
  return config.databaseOwnerUrl ? { url: config.databaseOwnerUrl, variable: 'DATABASE_OWNER_URL' } : { url: config.databaseUrl, variable: 'DATABASE_URL' };
}

/**
 * Checks the configured database, then runs `work` with a pool (one connection unless asked)
 * and the command's logger, and closes the pool.
 * @param options.requireMigrated false for `migrate down`, which works on any applied state
 * @param options.asOwner connect as the owner role (DATABASE_OWNER_URL, when set), for `migrate down`
 * @param options.connections the pool's size (default 1): 2 for work that holds a session lock while it runs transactions
 * @throws CliError (exit 1) when the database is unreachable, refuses the login, is missing or not migrated
 */
export async function withDatabase<T>(
  config: Config,
  work: (pool: Pool, logger: Logger) => Promise<T>,
  options: { requireMigrated?: boolean; asOwner?: boolean; connections?: number } = {},
): Promise<T> {
  const { url, variable } = options.asOwner ? ownerConnection(config) : { url: config.databaseUrl, variable: 'DATABASE_URL' };
  try {
    await checkDatabase(url);
  } catch (err) {
    if (!(err instanceof DatabaseUnavailableError) || err.problem !== 'not_migrated' || options.requireMigrated !== false) {
      throw databaseCliError(err, url, variable);
    }
  }
  const pool = createPool(url, options.connections ?? 1);
  try {
    return await work(pool, commandLogger(config));
  } catch (err) {
    throw databaseCliError(err, url, variable);
  } finally {
    await pool.end().catch(() => undefined);
  }
}
