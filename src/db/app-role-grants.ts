// Least privilege for a two-role install (DATABASE_OWNER_URL set): the owner
// role owns the tables and runs migrations; the application role gets only
// the rights it needs, and on audit_log only SELECT and INSERT of the
// columns it writes: a row's id and time come from the database (the
// sequence, now()), so the application can neither date a row back nor take
// an id ahead of the sequence. Table triggers refuse UPDATE, DELETE and
// TRUNCATE there too, but an owner may disable triggers: the boundary is that
// the application is not the owner.

import pg from 'pg';
import type { Queryable } from './pool.js';

/** Tables the application may read and append to, never change. */
const APPEND_ONLY_TABLES = ['audit_log'] as const;
/** Columns of an append-only table the application must not set by any route: the database's order and time. */
const DATABASE_SET_COLUMNS: Record<(typeof APPEND_ONLY_TABLES)[number], readonly string[]> = {
  audit_log: ['id', 'at'],
};
/** Tables the application may only read (the migrated? check reads umzug's table). */
const READ_ONLY_TABLES = ['lookout_migrations'] as const;
/** Table rights the application must not hold on an append-only table, by any route (PUBLIC, membership). */
const FORBIDDEN_ON_APPEND_ONLY = ['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES'] as const;

// Two replicas granting at once would fail with "tuple concurrently updated": one at a time.
const GRANT_LOCK_KEY = 0x6772616e; // 'gran'

export class RoleSplitError extends Error {
  override readonly name = 'RoleSplitError';
}

/** The role a connection URL logs in as ('' when the URL names none). */
export function roleOfUrl(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).username);
}

/**
 * Gives `appRole` exactly the rights Lookout's processes need on every table
 * and sequence of the owner's current schema: SELECT, INSERT, UPDATE, DELETE
 * on ordinary tables; SELECT on audit_log and INSERT of every column but
 * id and at (they keep their defaults: the sequence, now()); SELECT on the
 * migrations table; USAGE and SELECT on sequences (nextval, pg_dump). Earlier
 * grants to the role are revoked first, so the result is the same whatever
 * was granted before; all in one transaction. Run it as the owner after every
 * migration (new tables get their rights here, not from default privileges,
 * which would hand a new append-only table UPDATE and DELETE).
 * @param client a connection as the owner role, not inside a transaction
 * @throws RoleSplitError when the result is not a boundary (checkRoleSplit)
 */
export async function grantAppRole(client: pg.ClientBase, appRole: string): Promise<void> {
  const role = pg.escapeIdentifier(appRole);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [GRANT_LOCK_KEY]);
    const schema = pg.escapeIdentifier(await currentSchema(client));
    const listed = (tables: readonly string[]) => tables.map((t) => `${schema}.${pg.escapeIdentifier(t)}`).join(', ');
    const appendGrants: string[] = [];
    for (const table of APPEND_ONLY_TABLES) {
      const { rows } = await client.query<{ name: string }>(
        `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname <> ALL($2::text[]) ORDER BY attnum`,
        [`${schema}.${pg.escapeIdentifier(table)}`, [...DATABASE_SET_COLUMNS[table]]],
      );
      const columns = rows.map((r) => pg.escapeIdentifier(r.name)).join(', ');
      appendGrants.push(`GRANT SELECT${columns ? `, INSERT (${columns})` : ''} ON ${listed([table])} TO ${role};`);
    }
    await client.query(`
      GRANT USAGE ON SCHEMA ${schema} TO ${role};
      REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM ${role};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role};
      REVOKE ALL ON ${listed([...APPEND_ONLY_TABLES, ...READ_ONLY_TABLES])} FROM ${role};
      ${appendGrants.join('\n')}
      GRANT SELECT ON ${listed(READ_ONLY_TABLES)} TO ${role};
      REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM ${role};
      GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role};
    `);
    await checkRoleSplit(client, appRole);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function currentSchema(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ schema: string | null }>('SELECT current_schema() AS schema');
  const schema = rows[0]?.schema;
  if (!schema) throw new RoleSplitError('the owner role has no current schema (search_path names no existing schema)');
  return schema;
}

/**
 * Checks that `appRole` cannot change audit rows by any route: it is not a
 * superuser, not a member of the role owning the audit table, its schema or
 * the database (an owner can disable triggers or drop the table), and holds no
 * UPDATE, DELETE, TRUNCATE, TRIGGER or REFERENCES on an append-only table,
 * nor INSERT of the columns the database sets (audit_log's id and at),
 * directly, through PUBLIC or through another role.
 * @param db a connection to Lookout's database, after migrations
 * @throws RoleSplitError naming every problem found
 */
export async function checkRoleSplit(db: Queryable, appRole: string): Promise<void> {
  const { rows: roles } = await db.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [appRole]);
  if (roles.length === 0) throw new RoleSplitError(`the application role "${appRole}" (DATABASE_URL's user) does not exist`);
  const problems: string[] = [];
  if (roles[0]!.rolsuper) problems.push(`"${appRole}" is a superuser, which bypasses every privilege check`);
  const schema = await currentSchema(db);
  const { rows: owned } = await db.query<{ what: string }>(
    `SELECT 'the database' AS what FROM pg_database d WHERE d.datname = current_database() AND pg_has_role($1, d.datdba, 'MEMBER')
     UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE n.nspname = $2 AND pg_has_role($1, n.nspowner, 'MEMBER')
     UNION ALL SELECT 'table ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $2 AND c.relname = ANY($3::text[]) AND pg_has_role($1, c.relowner, 'MEMBER')`,
    [appRole, schema, [...APPEND_ONLY_TABLES]],
  );
  for (const { what } of owned) problems.push(`"${appRole}" owns (or is a member of the owner of) ${what}`);
  for (const table of APPEND_ONLY_TABLES) {
    const qualified = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
    for (const privilege of FORBIDDEN_ON_APPEND_ONLY) {
      const { rows } = await db.query<{ has: boolean }>('SELECT has_table_privilege($1, $2, $3) AS has', [appRole, qualified, privilege]);
      if (rows[0]?.has) problems.push(`"${appRole}" holds ${privilege} on ${table} (granted to it, to PUBLIC or to a role it belongs to)`);
    }
    const { rows: settable } = await db.query<{ name: string }>(
      `SELECT attname AS name FROM pg_attribute WHERE attrelid = $2::regclass AND attnum > 0 AND NOT attisdropped
         AND attname = ANY($3::text[]) AND has_column_privilege($1, attrelid, attnum, 'INSERT') ORDER BY attnum`,
      [appRole, qualified, [...DATABASE_SET_COLUMNS[table]]],
    );
    for (const { name } of settable) {
      problems.push(
        `"${appRole}" holds INSERT on ${table}.${name} (it could choose a row's ${name === 'at' ? 'time' : name}; granted to it, to PUBLIC or to a role it belongs to)`,
      );
    }
  }
  if (problems.length > 0) {
    throw new RoleSplitError(`the application role could change the audit trail: ${problems.join('; ')}. See "Two database roles" in README.md`);
  }
}
