// Getting Lookout's database ready: create it if missing, apply pending
// migrations, and in a two-role install grant the application role its
// rights. Done as the owner role (DATABASE_OWNER_URL) when one is configured,
// else as DATABASE_URL's role. Used by `lookout migrate up` and the servers.

import pg from 'pg';
import type { Logger } from 'pino';
import { grantAppRole, roleOfUrl } from './app-role-grants.js';
import { migrateUp } from './migrate.js';
import { createPool, ensureDatabase } from './pool.js';
import { urlForDatabase } from './server-admin.js';

export interface DatabaseUrls {
  /** The application's connection (DATABASE_URL). */
  databaseUrl: string;
  /** The owner's connection (DATABASE_OWNER_URL), when the roles are split. */
  databaseOwnerUrl: string | undefined;
}

export interface SetUpResult {
  /** True when the database did not exist and was created. */
  created: boolean;
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** The application role granted its rights; undefined in a one-role install. */
  grantedTo: string | undefined;
}

/** The application role when it differs from the owner role; undefined in a one-role install. */
function splitAppRole(urls: DatabaseUrls): string | undefined {
  if (!urls.databaseOwnerUrl) return undefined;
  const appRole = roleOfUrl(urls.databaseUrl);
  return appRole === roleOfUrl(urls.databaseOwnerUrl) ? undefined : appRole;
}

/** The URL for work that needs the owner's rights: migrations, verify, restore. */
export const ownerUrlOf = (urls: DatabaseUrls): string => urls.databaseOwnerUrl ?? urls.databaseUrl;

/**
 * Creates the database if needed, applies pending migrations and, when the
 * owner and application roles differ, (re)grants the application role.
 * Idempotent; safe for many replicas at once (migrations hold an advisory
 * lock; grants are one transaction each).
 * @throws RoleSplitError when the application role could still change audit rows
 * @throws the driver's errors when the owner cannot connect, create or migrate
 */
export async function setUpDatabase(urls: DatabaseUrls, logger?: Pick<Logger, 'info'>): Promise<SetUpResult> {
  const ownerUrl = ownerUrlOf(urls);
  const created = await ensureDatabase(ownerUrl);
  const pool = createPool(ownerUrl, 1);
  try {
    const applied = await migrateUp(pool, logger);
    const appRole = splitAppRole(urls);
    if (!appRole) return { created, applied, grantedTo: undefined };
    const client = await pool.connect();
    try {
      await grantAppRole(client, appRole);
    } finally {
      client.release();
    }
    logger?.info({ role: appRole }, 'granted the application role its rights (audit_log: SELECT, INSERT)');
    return { created, applied, grantedTo: appRole };
  } finally {
    await pool.end();
  }
}

/**
 * Grants the application role its rights in `database` on the same server (a
 * database just restored, as the owner, without the dump's grants). Does
 * nothing in a one-role install; returns the role granted, if any.
 * @throws RoleSplitError as grantAppRole
 */
export async function grantAppRoleIn(urls: DatabaseUrls, database: string): Promise<string | undefined> {
  const appRole = splitAppRole(urls);
  if (!appRole || !urls.databaseOwnerUrl) return undefined;
  const client = new pg.Client({ connectionString: urlForDatabase(urls.databaseOwnerUrl, database) });
  await client.connect();
  try {
    await grantAppRole(client, appRole);
  } finally {
    await client.end();
  }
  return appRole;
}

/**
 * Gets a database just restored (by name, on the same server, as the owner)
 * ready to take the live database's place: applies the migrations the backup
 * predates (the running API and workers never migrate, and expect this
 * version's schema), then grants the application role its rights there.
 * @returns the migrations applied (in order) and the role granted, if any
 * @throws RoleSplitError as grantAppRole; the driver's errors when a migration fails
 */
export async function prepareRestoredDatabase(urls: DatabaseUrls, database: string): Promise<{ applied: string[]; grantedTo: string | undefined }> {
  const pool = createPool(urlForDatabase(ownerUrlOf(urls), database), 1);
  let applied: string[];
  try {
    applied = await migrateUp(pool);
  } finally {
    await pool.end();
  }
  return { applied, grantedTo: await grantAppRoleIn(urls, database) };
}
