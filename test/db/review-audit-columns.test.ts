// Two database roles, reviewed (issue 15, hole 9): the application role may
// append to audit_log, but the row's id and time are the database's, not the
// application's. With a table-wide INSERT it could write a row dated years
// back (a forged "key.revoke" in the past) or take an id ahead of the
// sequence, so that a later real append fails on the primary key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoleSplitError } from '../../src/db/app-role-grants.js';
import { setUpDatabase } from '../../src/db/set-up-database.js';
import { dropDatabase } from '../../src/runtime/scratch-resources.js';
import { ADMIN_DATABASE_URL } from '../helpers/test-env.js';
import { connectedAs, createRoles, dropRoles, INSUFFICIENT_PRIVILEGE, roleNames, urlAs } from '../helpers/database-roles.js';

const names = roleNames('r');
const { owner: OWNER, app: APP, database: DATABASE } = names;
const urls = { databaseUrl: urlAs(APP, DATABASE), databaseOwnerUrl: urlAs(OWNER, DATABASE) };

beforeAll(async () => {
  // README "Two database roles", as written there (passwords aside: the test server trusts local logins).
  await createRoles(names);
  await connectedAs(ADMIN_DATABASE_URL, (c) => c.query(`CREATE DATABASE ${DATABASE} OWNER ${OWNER}`));
  expect((await setUpDatabase(urls)).grantedTo).toBe(APP);
});

afterAll(async () => {
  await dropDatabase(ADMIN_DATABASE_URL, DATABASE);
  await dropRoles(names);
});

describe("the application role appends audit rows with the database's id and time", () => {
  it('appends with the defaults, and is refused a chosen id or time', async () => {
    await connectedAs(urls.databaseUrl, async (c) => {
      const appended = await c.query<{ id: string; fresh: boolean }>(
        `INSERT INTO audit_log (actor, action, target, outcome, details) VALUES ('cli', 'review.append', NULL, 'ok', '{}')
         RETURNING id::text AS id, at > now() - interval '1 minute' AS fresh`,
      );
      expect(appended.rows[0]?.fresh).toBe(true);
      for (const sql of [
        `INSERT INTO audit_log (at, actor, action) VALUES ('2001-01-01', 'cli', 'key.revoke')`,
        `INSERT INTO audit_log (id, actor, action) VALUES (999999, 'cli', 'key.revoke')`,
        `INSERT INTO audit_log (id, at, actor, action, target, outcome, details) VALUES (${Number(appended.rows[0]!.id) + 1}, now(), 'cli', 'x', NULL, 'ok', '{}')`,
        `SELECT setval('audit_log_id_seq', 999999)`,
      ]) {
        await expect(c.query(sql), sql).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
      }
    });
    const rows = await connectedAs(urls.databaseOwnerUrl, (c) => c.query<{ action: string }>('SELECT action FROM audit_log ORDER BY id'));
    expect(rows.rows.map((r) => r.action)).toEqual(['review.append']);
  });

  it("refuses a split where the application role can set an audit row's id or time, by any route", async () => {
    await connectedAs(urls.databaseOwnerUrl, (c) => c.query('GRANT INSERT ON audit_log TO PUBLIC'));
    try {
      await expect(setUpDatabase(urls)).rejects.toThrow(RoleSplitError);
      await expect(setUpDatabase(urls)).rejects.toThrow(/holds INSERT on audit_log\.id .*INSERT on audit_log\.at/);
    } finally {
      await connectedAs(urls.databaseOwnerUrl, (c) => c.query('REVOKE INSERT ON audit_log FROM PUBLIC'));
    }
    // A right granted to the role itself by hand is taken back by the next grant.
    await connectedAs(urls.databaseOwnerUrl, (c) => c.query(`GRANT INSERT ON audit_log TO ${APP}`));
    expect((await setUpDatabase(urls)).grantedTo).toBe(APP);
    await expect(
      connectedAs(urls.databaseUrl, (c) => c.query(`INSERT INTO audit_log (at, actor, action) VALUES ('2001-01-01', 'cli', 'x')`)),
    ).rejects.toMatchObject({
      code: INSUFFICIENT_PRIVILEGE,
    });
  });

  it('cannot climb out of its rights: no objects of its own, no other role, no grants to itself', async () => {
    await connectedAs(urls.databaseUrl, async (c) => {
      for (const sql of [
        'CREATE TABLE public.mine (x int)',
        "CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '2001-01-01' $$",
        'CREATE SCHEMA mine',
        `SET ROLE ${OWNER}`,
        `SET SESSION AUTHORIZATION ${OWNER}`,
        'ALTER TABLE audit_log ALTER COLUMN at DROP DEFAULT',
      ]) {
        await expect(c.query(sql), sql).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
      }
      await c.query(`GRANT UPDATE, DELETE, INSERT ON audit_log TO ${APP}`); // a warning, nothing granted: it holds no grant option
      await expect(c.query(`INSERT INTO audit_log (at, actor, action) VALUES ('2001-01-01', 'cli', 'x')`)).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
      });
      await expect(c.query(`UPDATE audit_log SET actor = 'x'`)).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
    });
  });
});
