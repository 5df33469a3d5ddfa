// Two database roles for tests of the owner/application split (README "Two
// database roles"): role names unique to one test file, URLs as them, and one
// connection at a time as any of them.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ADMIN_DATABASE_URL } from './test-env.js';

/** Postgres's SQLSTATE for "permission denied". */
export const INSUFFICIENT_PRIVILEGE = '42501';

/** The admin URL with another user and database (the test server trusts local logins). */
export function urlAs(user: string, database: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.username = user;
  url.password = '';
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `work` on one connection as `url`'s role, closed afterwards. */
export async function connectedAs<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** An owner and an application role name and a database name, unique to this run, from `label` (a few lowercase letters). */
export function roleNames(label: string): { owner: string; app: string; database: string } {
  const suffix = randomBytes(4).toString('hex');
  return { owner: `lk_${label}owner_${suffix}`, app: `lk_${label}app_${suffix}`, database: `lookout_t_${label}roles_${suffix}` };
}

/** What README's "Two database roles" asks an administrator to run (passwords aside). */
export function createRoles(names: { owner: string; app: string }): Promise<unknown> {
  return connectedAs(ADMIN_DATABASE_URL, (c) =>
    c.query(`CREATE ROLE ${names.owner} LOGIN CREATEDB; GRANT pg_signal_backend TO ${names.owner}; CREATE ROLE ${names.app} LOGIN`),
  );
}

/** Drops both roles (after their databases). */
export function dropRoles(names: { owner: string; app: string }): Promise<unknown> {
  return connectedAs(ADMIN_DATABASE_URL, (c) => c.query(`DROP ROLE IF EXISTS ${names.app}; DROP ROLE IF EXISTS ${names.owner}`));
}
