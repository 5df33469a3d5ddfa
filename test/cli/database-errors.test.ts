// CLI commands on a wrong or missing database: only `migrate up` (and the
// server processes) create or migrate; every other command says which
// database it could not reach and how to fix it, exits 1, prints no stack
// trace, and leaves the server as it found it. `lookout submit` finds the
// server on PORT when LOOKOUT_URL is not set, and names the URL it tried.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/run-cli.js';
import { freePort } from '../helpers/ports.js';
import { ADMIN_DATABASE_URL, createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

let env: TestEnv;
let services: Services;
const missing = `lookout_t_absent_${randomBytes(4).toString('hex')}`;
const empty = `lookout_t_empty_${randomBytes(4).toString('hex')}`;

function urlFor(database: string, patch: (u: URL) => void = () => undefined): string {
  const u = new URL(ADMIN_DATABASE_URL);
  u.pathname = `/${database}`;
  patch(u);
  return u.toString();
}

async function admin<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

const exists = async (name: string) => (await admin('SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;

beforeAll(async () => {
  env = await createTestEnv('cli_db');
  services = await env.open();
  await admin(`CREATE DATABASE ${empty}`);
});
afterAll(async () => {
  await env.cleanup();
  await admin(`DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
  await admin(`DROP DATABASE IF EXISTS ${missing} WITH (FORCE)`);
});

// Every command that reads or writes the database, with arguments that would be valid.
const COMMANDS: string[][] = [
  ['keys', 'list'],
  ['keys', 'list', '--json'],
  ['keys', 'create', '--name', 'x', '--role', 'viewer'],
  ['keys', 'revoke', 'deadbeef'],
  ['workers'],
  ['workers', '--json'],
  ['queues', 'list'],
  ['queues', 'pause', 'detect'],
  ['reconcile', '--dry-run'],
  ['backup', 'list'],
  ['migrate', 'down'],
];

function expectCleanFailure(result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
}

describe('a DATABASE_URL naming a database that does not exist', () => {
  it.each(COMMANDS.map((c) => [c.join(' '), c] as const))('lookout %s: says so, exits 1 and creates nothing', async (_name, args) => {
    const result = await runCli([...args], { env: { ...env.env, DATABASE_URL: urlFor(missing) } });
    expectCleanFailure(result, new RegExp(`database "${missing}" does not exist .*127\\.0\\.0\\.1:5432.*npx lookout migrate up`));
    expect(await exists(missing)).toBe(false);
  });
});

describe('a database that exists but has no Lookout schema', () => {
  it.each(COMMANDS.filter((c) => c[0] !== 'migrate').map((c) => [c.join(' '), c] as const))(
    'lookout %s: says to migrate and changes nothing',
    async (_name, args) => {
      const result = await runCli([...args], { env: { ...env.env, DATABASE_URL: urlFor(empty) } });
      expectCleanFailure(result, new RegExp(`database "${empty}" .*no up-to-date Lookout schema.*npx lookout migrate up`));
      const tables = new pg.Client({ connectionString: urlFor(empty) });
      await tables.connect();
      try {
        expect((await tables.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0].n).toBe(0);
      } finally {
        await tables.end();
      }
    },
  );
});

describe('migrate down on a database with nothing applied', () => {
  it('says there is nothing to revert and writes nothing', async () => {
    const result = await runCli(['migrate', 'down'], { env: { ...env.env, DATABASE_URL: urlFor(empty) } });
    expect([result.code, result.stdout]).toEqual([0, 'nothing to revert\n']);
    const c = new pg.Client({ connectionString: urlFor(empty) });
    await c.connect();
    try {
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });
});

describe('a server that does not answer or refuses the login', () => {
  it.each(COMMANDS.map((c) => [c.join(' '), c] as const))(
    'lookout %s: names the server it could not reach, within 10 s, password masked',
    async (_name, args) => {
      const port = await freePort();
      const started = Date.now();
      const result = await runCli([...args], { env: { ...env.env, DATABASE_URL: `postgres://lookout:hunter2-secret@127.0.0.1:${port}/lookout` } });
      expect(Date.now() - started).toBeLessThan(10_000);
      expectCleanFailure(result, new RegExp(`cannot reach the PostgreSQL server at 127\\.0\\.0\\.1:${port} .*ECONNREFUSED`));
      expect(result.stderr).not.toContain('hunter2-secret');
      expect(result.stderr).toContain('********');
    },
  );

  it('migrate up on an unreachable server fails the same way, with no stack trace', async () => {
    const port = await freePort();
    const result = await runCli(['migrate', 'up'], { env: { ...env.env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/lookout` } });
    expectCleanFailure(result, new RegExp(`cannot reach the PostgreSQL server at 127\\.0\\.0\\.1:${port}`));
  });

  it.each([['all'], ['worker', '--queues', 'batches']])(
    'the server process lookout %s fails to start the same way and exits 1 (nothing left running)',
    async (...args) => {
      const port = await freePort();
      const started = Date.now();
      const result = await runCli(args, { env: { ...env.env, PORT: '0', DATABASE_URL: `postgres://lookout:hunter2-secret@127.0.0.1:${port}/lookout` } });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^lookout: cannot reach the PostgreSQL server at 127\\.0\\.0\\.1:${port} .*ECONNREFUSED`, 'm'));
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr + result.stdout).not.toContain('hunter2-secret');
    },
  );

  it.each([
    ['TLS asked of a server without it', '?sslmode=require', /The server does not support SSL connections/],
    ['a bad startup option', `?options=${encodeURIComponent('-c statement_timeout=x')}`, /invalid value for parameter "statement_timeout"/],
  ])('%s: named with the database URL, exit 1, no stack trace', async (_label, query, reason) => {
    const result = await runCli(['workers'], { env: { ...env.env, DATABASE_URL: `${env.env.DATABASE_URL}${query}` } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    // pg itself may print a deprecation warning about sslmode first; our line is the last.
    const last = result.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^lookout: cannot reach the PostgreSQL server at 127\.0\.0\.1:5432 for database/);
    expect(last).toMatch(reason);
  });

  it('a role the server does not know: the login is refused, named, exit 1', async () => {
    const result = await runCli(['keys', 'list'], {
      env: { ...env.env, DATABASE_URL: urlFor(env.config.databaseUrl.split('/').pop()!, (u) => (u.username = 'no_such_role_x')) },
    });
    expectCleanFailure(result, /refused the login of user "no_such_role_x".*Check the user and password in DATABASE_URL/);
  });
});

describe('migrate up is the one command that creates and migrates', () => {
  it('creates the missing database, after which keys list works', async () => {
    const url = urlFor(missing);
    const up = await runCli(['migrate', 'up'], { env: { ...env.env, DATABASE_URL: url } });
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^applied: 0001-initial/);
    expect(await exists(missing)).toBe(true);
    const list = await runCli(['keys', 'list', '--json'], { env: { ...env.env, DATABASE_URL: url } });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({ keys: [] });
  });
});

describe('lookout submit follows the server environment', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-submit-port-'));
    await writeFile(path.join(dir, 'astronaut.png'), await readPhoto('astronaut.png'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('with LOOKOUT_URL unset, sends to http://127.0.0.1:$PORT', async () => {
    const api = await env.api(services);
    const key = await env.key(services, 'submitter');
    const result = await runCli(['submit', dir, '--json'], { env: { LOOKOUT_URL: '', PORT: String(api.port), LOOKOUT_API_KEY: key } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const batchId = (JSON.parse(result.stdout.trim().split('\n')[0]!) as { batchId: string }).batchId;
    expect(await env.sql('SELECT count(*)::int AS n FROM batches WHERE id = $1', [batchId])).toEqual([{ n: 1 }]);
  });

  it('names the URL it tried and where it came from when nothing answers there', async () => {
    const port = await freePort();
    const result = await runCli(['submit', dir], { env: { LOOKOUT_URL: '', PORT: String(port), LOOKOUT_API_KEY: 'lk_00000000_x' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `lookout submit: cannot reach http://127.0.0.1:${port} (ECONNREFUSED); LOOKOUT_URL is not set, so PORT on this host was tried: is the server running there? Set LOOKOUT_URL to reach another one.\n`,
    );
  });

  it('LOOKOUT_URL wins over PORT', async () => {
    const port = await freePort();
    const result = await runCli(['submit', dir], { env: { LOOKOUT_URL: `http://127.0.0.1:${port}`, PORT: '1', LOOKOUT_API_KEY: 'lk_00000000_x' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lookout submit: cannot reach http://127.0.0.1:${port} (ECONNREFUSED); is LOOKOUT_URL right?\n`);
  });

  it('refuses a LOOKOUT_URL with a user or password (exit 2), never printing the password', async () => {
    const result = await runCli(['submit', dir], { env: { LOOKOUT_URL: 'http://user:secret-pw@127.0.0.1:9', LOOKOUT_API_KEY: 'lk_00000000_x' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('lookout submit: LOOKOUT_URL must not carry a user or password (the API key goes in LOOKOUT_API_KEY)\n');
  });

  it.each(['0', '70000', 'http'])('refuses PORT=%s with exit 2', async (port) => {
    const result = await runCli(['submit', dir], { env: { LOOKOUT_URL: '', PORT: port, LOOKOUT_API_KEY: 'lk_00000000_x' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^lookout submit: PORT expected a port number from 1 to 65535/);
  });
});
