// Two database roles (DATABASE_OWNER_URL): the owner migrates and owns the
// tables; the application role, which the API and workers use, may read and
// append to audit_log but not change it by any route: no UPDATE, DELETE or
// TRUNCATE privilege, no trigger switch-off (owner only), no replica mode
// (superuser only). Each refusal asserted by its SQLSTATE, 42501
// (insufficient_privilege), not by the append-only trigger's message.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { maskSecrets } from '../../src/config/mask-secrets.js';
import { RoleSplitError } from '../../src/db/app-role-grants.js';
import { grantAppRoleIn, setUpDatabase } from '../../src/db/set-up-database.js';
import { dropDatabase } from '../../src/runtime/scratch-resources.js';
import type { Services } from '../../src/runtime/services.js';
import { runCli } from '../helpers/run-cli.js';
import { spawnWorker, type WorkerChild } from '../helpers/spawn-worker.js';
import { ADMIN_DATABASE_URL, authed, createTestEnv, submit, type TestEnv } from '../helpers/test-env.js';
import { readPhoto } from '../helpers/photos.js';
import { connectedAs, createRoles, dropRoles, INSUFFICIENT_PRIVILEGE, roleNames, urlAs } from '../helpers/database-roles.js';

const names = roleNames('');
const { owner: OWNER, app: APP, database: DATABASE } = names;
const ownerUrl = urlAs(OWNER, DATABASE);
const appUrl = urlAs(APP, DATABASE);

/** Runs `sql` as the server's administrator. */
const asAdmin = (sql: string) => connectedAs(ADMIN_DATABASE_URL, (c) => c.query(sql));

let env: TestEnv;
let services: Services;

beforeAll(async () => {
  // What README's "Two database roles" asks an administrator to run.
  await createRoles(names);
  env = await createTestEnv('roles', {
    DATABASE_URL: appUrl,
    DATABASE_OWNER_URL: ownerUrl,
    BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    BACKUP_VERIFY_AFTER: 'false',
  });
  services = await env.open(); // prepareDatabase: created and migrated as the owner, then the app granted
});

const kept: string[] = []; // databases a replace-live restore kept

afterAll(async () => {
  await env?.cleanup();
  for (const name of [DATABASE, ...kept]) await dropDatabase(ADMIN_DATABASE_URL, name);
  await dropRoles(names);
});

describe('two database roles', () => {
  it('the servers create and migrate the database as the owner role, which owns every table', async () => {
    const owners = await env.sql<{ owner: string }>(
      `SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'
       UNION SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`,
    );
    expect(owners).toEqual([{ owner: OWNER }]);
    expect((await env.sql(`SELECT current_user AS me`))[0]).toEqual({ me: APP });
  });

  it('the application role may read and append to audit_log, and nothing else there', async () => {
    await env.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'roles.probe')`);
    const before = await env.sql(`SELECT id, actor, action, at FROM audit_log ORDER BY id`);
    expect(before.some((r) => r.action === 'roles.probe')).toBe(true);
    for (const sql of [`UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`]) {
      await expect(env.sql(sql), sql).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
        message: expect.stringMatching(/permission denied for table audit_log/),
      });
    }
    // Whatever else it tries on one connection: switching the triggers off
    // (owner only), replica mode (superuser only), taking the table over, a
    // trigger of its own, dropping it. Then the change the triggers guarded.
    await connectedAs(appUrl, async (client) => {
      for (const sql of [
        'ALTER TABLE audit_log DISABLE TRIGGER ALL',
        'ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only',
        'SET session_replication_role = replica',
        `ALTER TABLE audit_log OWNER TO ${APP}`,
        'CREATE TRIGGER mine BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()',
        'DROP TABLE audit_log',
        `UPDATE audit_log SET actor = 'someone else'`,
        'DELETE FROM audit_log',
      ]) {
        await expect(client.query(sql), sql).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
      }
      expect((await client.query('SHOW session_replication_role')).rows[0]).toEqual({ session_replication_role: 'origin' });
    });
    expect(await env.sql(`SELECT id, actor, action, at FROM audit_log ORDER BY id`)).toEqual(before);
  });

  it('the application does its normal work as that role: keys, uploads, the audit log', async () => {
    const api = await env.api(services);
    const admin = await env.key(services, 'admin');
    const created = await fetch(`${api.url}/v1/keys`, {
      method: 'POST',
      headers: { ...authed(admin).headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'roles-submitter', role: 'submitter' }),
    });
    expect(created.status).toBe(201);
    const { id, key } = (await created.json()) as { id: string; key: string };
    const batch = await submit(api.url, key, [{ name: 'astronaut.png', bytes: await readPhoto('astronaut.png'), type: 'image/png' }]);
    expect(batch.status).toBe(202);
    expect((await fetch(`${api.url}/v1/keys/${id}`, { method: 'DELETE', ...authed(admin) })).status).toBe(200);
    expect((await fetch(`${api.url}/v1/batches/${batch.body.id}`, authed(key))).status).toBe(401);
    const audit = (await (await fetch(`${api.url}/v1/audit?target=${encodeURIComponent(`key:${id}`)}`, authed(admin))).json()) as {
      entries: Array<Record<string, unknown>>;
    };
    // The DELETE request's own row (http.request) and the key's two events, all written as the application role.
    expect(audit.entries.map((e) => e.action).sort()).toEqual(['http.request', 'key.create', 'key.revoke']);
  });

  it('`lookout migrate up` connects as the owner and grants again, idempotently', async () => {
    const result = await runCli(['migrate', 'up'], { env: env.env });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.stdout).toBe(`up to date\ngranted ${APP} its rights (audit_log: SELECT and INSERT only)\n`);
    expect(result.code).toBe(0);
    // A right granted by hand beyond the list is taken back.
    await connectedAs(ownerUrl, (c) => c.query(`GRANT UPDATE, TRUNCATE ON audit_log TO ${APP}`));
    expect((await setUpDatabase({ databaseUrl: appUrl, databaseOwnerUrl: ownerUrl })).grantedTo).toBe(APP);
    await expect(env.sql('TRUNCATE audit_log')).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
  });

  it('refuses a split that is no boundary, naming why', async () => {
    const urls = { databaseUrl: appUrl, databaseOwnerUrl: ownerUrl };
    await connectedAs(ownerUrl, (c) => c.query('GRANT UPDATE ON audit_log TO PUBLIC'));
    await expect(setUpDatabase(urls)).rejects.toThrow(RoleSplitError);
    await expect(setUpDatabase(urls)).rejects.toThrow(/holds UPDATE on audit_log/);
    await connectedAs(ownerUrl, (c) => c.query('REVOKE UPDATE ON audit_log FROM PUBLIC'));
    await asAdmin(`GRANT ${OWNER} TO ${APP}`);
    try {
      await expect(setUpDatabase(urls)).rejects.toThrow(/owns \(or is a member of the owner of\) the database; .*table audit_log/);
    } finally {
      await asAdmin(`REVOKE ${OWNER} FROM ${APP}`);
    }
    const cli = await runCli(['migrate', 'up'], { env: { ...env.env, DATABASE_URL: urlAs('postgres', DATABASE) } });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/"postgres" is a superuser/);
    expect(await setUpDatabase(urls)).toEqual({ created: false, applied: [], grantedTo: APP });
  });

  it('a database restored as the owner gets the application role its rights back', async () => {
    const restored = `${DATABASE}_r`;
    await connectedAs(urlAs(OWNER, 'postgres'), (c) => c.query(`CREATE DATABASE ${restored}`));
    try {
      await connectedAs(urlAs(OWNER, restored), (c) =>
        c.query(`CREATE TABLE audit_log (id bigserial PRIMARY KEY, actor text); CREATE TABLE lookout_migrations (name text); CREATE TABLE batches (id text)`),
      );
      await expect(connectedAs(urlAs(APP, restored), (c) => c.query('SELECT * FROM batches'))).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
      expect(await grantAppRoleIn({ databaseUrl: appUrl, databaseOwnerUrl: ownerUrl }, restored)).toBe(APP);
      await connectedAs(urlAs(APP, restored), async (c) => {
        await c.query(`INSERT INTO batches VALUES ('b'); INSERT INTO audit_log (actor) VALUES ('a')`);
        await expect(c.query('DELETE FROM audit_log')).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
      });
      expect(await grantAppRoleIn({ databaseUrl: appUrl, databaseOwnerUrl: undefined }, restored)).toBeUndefined();
    } finally {
      await dropDatabase(ADMIN_DATABASE_URL, restored);
    }
  });
});

describe('backups with two roles', () => {
  let worker: WorkerChild | undefined;
  afterAll(() => worker?.stop());

  it('back up as the application, verify and restore over the live database as the owner; the application keeps its rights and no more', async () => {
    worker = await spawnWorker(env.env, ['--queues', 'backup']);
    const cli = async (args: string[]) => {
      const result = await runCli(args, { env: env.env });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, any>;
    };
    await env.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'roles.before-backup')`);
    const backup = await cli(['backup', 'run', '--json']); // pg_dump as the application role
    expect(backup.status).toBe('succeeded');
    expect(await cli(['backup', 'verify', backup.id, '--json'])).toEqual({ id: backup.id, status: 'verified' }); // scratch database: owner
    // The batch submitted above has no detect worker: still queued, so the restore is told to go ahead anyway.
    const restored = await cli(['backup', 'restore', backup.id, '--target-database', DATABASE, '--replace-live', '--allow-running-batches', '--json']);
    kept.push(restored.previous as string);
    expect(restored).toMatchObject({ status: 'restored', database: DATABASE });

    const owners = await env.sql(`SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'`);
    expect(owners).toEqual([{ owner: OWNER }]);
    expect((await env.sql(`SELECT action FROM audit_log WHERE action = 'roles.before-backup'`)).length).toBe(1);
    await env.sql(`INSERT INTO audit_log (actor, action) VALUES ('test', 'roles.after-restore')`);
    await env.sql(`INSERT INTO batches (id, model, min_score, total, created_by) VALUES (gen_random_uuid(), 'm', 0.5, 0, 'test')`);
    for (const sql of ['UPDATE audit_log SET actor = actor', 'DELETE FROM audit_log', 'TRUNCATE audit_log', 'ALTER TABLE audit_log DISABLE TRIGGER ALL']) {
      await expect(env.sql(sql), sql).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
    }
  });
});

describe('DATABASE_OWNER_URL', () => {
  const base = { DATABASE_URL: 'postgres://lookout_app:app-secret@db:5432/lookout' };

  it('is optional, masked like DATABASE_URL, and must name a user and the same database', () => {
    expect(loadConfig(base).databaseOwnerUrl).toBeUndefined();
    const config = loadConfig({ ...base, DATABASE_OWNER_URL: 'postgres://lookout_owner:owner-secret@db-direct:5432/lookout' });
    expect(config.databaseOwnerUrl).toBe('postgres://lookout_owner:owner-secret@db-direct:5432/lookout');
    const shown = JSON.stringify(maskSecrets(config));
    expect(shown).toContain('postgres://lookout_owner:********@db-direct:5432/lookout');
    expect(shown).not.toContain('owner-secret');
    for (const [owner, message] of [
      ['postgres://lookout_owner:owner-secret@db:5432/other', /same database as DATABASE_URL \("lookout"\), got "other"/],
      ['postgres://db:5432/lookout', /must each name their user/],
      ['http://lookout_owner@db/lookout', /expected a postgres:\/\/ URL/],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ ...base, DATABASE_OWNER_URL: owner });
      } catch (err) {
        error = err;
      }
      expect(error, owner).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems[0]?.variable).toBe('DATABASE_OWNER_URL');
      expect((error as ConfigError).message).toMatch(message);
      expect((error as ConfigError).message).not.toContain('owner-secret');
    }
  });
});
