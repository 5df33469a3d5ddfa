// A test's own Postgres and Redis on other ports, so fault tests can stop and
// restart them without touching the machine's shared services.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { until } from './receivers.js';

const run = promisify(execFile);
const randomPort = () => 20_000 + Math.floor(Math.random() * 20_000);

function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0]!;
  return path.join(root, version, 'bin', tool);
}

/** Runs a PostgreSQL tool as the postgres OS user when we are root (initdb refuses root). */
function asPostgres(tool: string, args: string[]) {
  return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', pgBin(tool), ...args]) : run(pgBin(tool), args);
}

export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-pg-'));
  await chmod(dir, 0o777);
  if (process.getuid?.() === 0) await run('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = randomPort();
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = async () => {
    await asPostgres('pg_ctl', [
      '-D',
      data,
      '-l',
      path.join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => void (await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])),
    start,
    async destroy() {
      if (existsSync(path.join(data, 'postmaster.pid'))) await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  /** Stops and starts it again; `empty` starts it without its data (a Redis restarted empty). */
  restart(options?: { empty?: boolean }): Promise<void>;
  /** SIGTERM: connections are refused until start(). */
  stop(): Promise<void>;
  start(options?: { empty?: boolean }): Promise<void>;
  /** SIGSTOP: the server keeps its sockets open but answers nothing (a hung or blackholed Redis) until resume(). */
  pause(): void;
  resume(): void;
  destroy(): Promise<void>;
}

/** Waits until a Redis on this port answers PING. */
export async function waitForRedis(port: number, timeoutMs = 10_000): Promise<void> {
  await until(
    'Redis',
    async () => {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      } finally {
        probe.disconnect();
      }
    },
    timeoutMs,
  );
}

/** A Redis with AOF fsynced every write (what production runs with everysec). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-redis-'));
  const port = randomPort();
  let child: ChildProcess;
  const start = async (options: { empty?: boolean } = {}) => {
    if (options.empty) {
      for (const entry of readdirSync(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
    }
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    await waitForRedis(port);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a paused server handles SIGTERM only once it runs again
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart(options) {
      await stop();
      await start(options);
    },
    stop,
    start,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
