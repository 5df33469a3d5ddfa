// A PostgreSQL cluster of its own that archives its WAL through pgBackRest
// to a repository of its own (aes-256-cbc, a random cipher pass kept in the
// pgbackrest.conf only), for the pitr benchmark and the tests: initdb as the
// postgres OS user (when this runs as root) in a temporary directory that
// user owns, 127.0.0.1 only, archive_timeout as asked. destroy() stops it
// and removes the directory (and any copy a caller registered with track()).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../backups/pitr/free-port.js';

const run = promisify(execFile);

/** A PostgreSQL server tool of the newest version installed (Debian's layout), else the one on PATH. */
export function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return tool;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0]!;
  return path.join(root, version, 'bin', tool);
}

/** Runs `file` as the postgres OS user when this process is root (initdb, pg_ctl and pgbackrest refuse or misbehave as root). */
export function runAsPostgres(file: string, args: readonly string[], env: Record<string, string> = {}) {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', 'env', ...envArgs, file, ...args]) : run('env', [...envArgs, file, ...args]);
}

export interface ScratchPitrCluster {
  dir: string;
  dataDir: string;
  port: number;
  configFile: string;
  stanza: string;
  cipherPass: string;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  adminUrl: string;
  /** The archive_command it was set up with. */
  archiveCommand: string;
  /** Stops it at once, as a crash would (no final archiving). */
  crash(): Promise<void>;
  /** Remembers a data directory restored from it, to stop and remove in destroy(). */
  track(dataDir: string): void;
  destroy(): Promise<void>;
}

export async function startScratchPitrCluster(options: { archiveTimeoutSeconds: number; fsync?: boolean }): Promise<ScratchPitrCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-pitr-t-'));
  await chmod(dir, 0o755);
  if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', dir]);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const stanza = 'lookout';
  const cipherPass = randomBytes(24).toString('base64url');
  const configFile = path.join(dir, 'pgbackrest.conf');
  const tracked: string[] = [];
  const stop = async (d: string) => {
    if (existsSync(path.join(d, 'postmaster.pid'))) await runAsPostgres(pgBin('pg_ctl'), ['-D', d, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
  };
  const destroy = async () => {
    for (const d of [...tracked, dataDir]) await stop(d);
    for (const d of tracked) await rm(d, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await runAsPostgres('mkdir', ['-m', '700', ...['repo', 'log', 'lock', 'spool'].map((d) => path.join(dir, d))]);
    const conf = [
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
    ];
    await writeFile(configFile, conf.join('\n'), { mode: 0o640 });
    if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', configFile]);
    await runAsPostgres(pgBin('initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
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
        `archive_timeout = ${options.archiveTimeoutSeconds}`,
        `fsync = ${options.fsync === false ? 'off' : 'on'}`,
        '',
      ].join('\n'),
    );
    await runAsPostgres(pgBin('pg_ctl'), ['-D', dataDir, '-l', path.join(dir, 'postgres.log'), '-w', 'start']);
    await runAsPostgres('pgbackrest', [`--stanza=${stanza}`, 'stanza-create'], { PGBACKREST_CONFIG: configFile });
    return {
      dir,
      dataDir,
      port,
      configFile,
      stanza,
      cipherPass,
      adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
      archiveCommand,
      crash: () => stop(dataDir),
      track: (d) => void tracked.push(d),
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
