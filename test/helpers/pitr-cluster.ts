// A Postgres cluster of the test's own that archives its WAL through
// pgBackRest to a repository of the test's own (aes-256-cbc, a random cipher
// pass in the config file only): initdb'ed as the postgres OS user in a
// temporary directory that user owns, listening on 127.0.0.1 only, with a
// short archive_timeout. destroy() stops it and removes everything, the
// restored copies a test registered included.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { asPostgres } from './private-servers.js';

const run = promisify(execFile);

/** Runs a command as the postgres OS user (root runs the tests; initdb, pg_ctl and pgbackrest refuse or misbehave as root). */
export function runAsPostgres(file: string, args: string[], env: Record<string, string> = {}) {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', 'env', ...envArgs, file, ...args]) : run('env', [...envArgs, file, ...args]);
}

export interface PitrCluster {
  dir: string;
  dataDir: string;
  port: number;
  configFile: string;
  stanza: string;
  cipherPass: string;
  /** postgres://postgres@127.0.0.1:PORT/postgres: createTestEnv's adminDatabaseUrl. */
  adminUrl: string;
  /** The archive_command it was set up with. */
  archiveCommand: string;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Switches to a new WAL segment and waits until the one just closed is archived. */
  switchAndWaitArchived(timeoutMs?: number): Promise<void>;
  /** Remembers a data directory a test restored into (and maybe started), to stop and remove in destroy(). */
  track(dataDir: string): void;
  destroy(): Promise<void>;
}

export async function startPitrCluster(options: { archiveTimeoutSeconds?: number } = {}): Promise<PitrCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-pitr-t-'));
  await chmod(dir, 0o755);
  if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', dir]);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const stanza = 'lookout';
  const cipherPass = randomBytes(24).toString('base64url');
  const configFile = path.join(dir, 'pgbackrest.conf');
  const tracked: string[] = [];
  const destroy = async () => {
    for (const d of [...tracked, dataDir]) {
      if (existsSync(path.join(d, 'postmaster.pid'))) await asPostgres('pg_ctl', ['-D', d, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    for (const d of tracked) await rm(d, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await runAsPostgres('mkdir', ['-m', '700', path.join(dir, 'repo'), path.join(dir, 'log'), path.join(dir, 'lock'), path.join(dir, 'spool')]);
    await writeFile(
      configFile,
      [
        '[global]',
        `repo1-path=${dir}/repo`,
        'repo1-cipher-type=aes-256-cbc',
        `repo1-cipher-pass=${cipherPass}`,
        'repo1-retention-full=2',
        `log-path=${dir}/log`,
        `lock-path=${dir}/lock`,
        `spool-path=${dir}/spool`,
        'start-fast=y',
        'log-level-console=warn',
        '',
        `[${stanza}]`,
        `pg1-path=${dataDir}`,
        `pg1-port=${port}`,
        `pg1-socket-path=${dir}`,
        '',
      ].join('\n'),
      { mode: 0o640 },
    );
    if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', configFile]);
    await asPostgres('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const archiveCommand = `pgbackrest --config=${configFile} --stanza=${stanza} archive-push %p`;
    await appendFile(
      path.join(dataDir, 'postgresql.conf'),
      [
        '',
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${dir}'`,
        'wal_level = replica',
        'archive_mode = on',
        `archive_command = '${archiveCommand}'`,
        `archive_timeout = ${options.archiveTimeoutSeconds ?? 5}`,
        'fsync = off',
        '',
      ].join('\n'),
    );
    await asPostgres('pg_ctl', ['-D', dataDir, '-l', path.join(dir, 'postgres.log'), '-w', 'start']);
    await runAsPostgres('pgbackrest', [`--stanza=${stanza}`, 'stanza-create'], { PGBACKREST_CONFIG: configFile });
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const query = async <T extends pg.QueryResultRow>(sql: string, params?: unknown[], database = 'postgres'): Promise<T[]> => {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database });
      await client.connect();
      try {
        return (await client.query<T>(sql, params)).rows;
      } finally {
        await client.end();
      }
    };
    return {
      dir,
      dataDir,
      port,
      configFile,
      stanza,
      cipherPass,
      adminUrl,
      archiveCommand,
      query,
      async switchAndWaitArchived(timeoutMs = 30_000) {
        const [{ wal }] = (await query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal')) as [{ wal: string }];
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const [a] = await query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
          if (a?.last && a.last >= wal) return;
          if (Date.now() > deadline) throw new Error(`WAL ${wal} not archived within ${timeoutMs} ms (last archived: ${a?.last})`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      track: (d) => void tracked.push(d),
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
