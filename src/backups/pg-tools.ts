// pg_dump and pg_restore: finding them, checking their major version suits
// the server's, and running them with the password in the environment (never
// on the command line, never in a log).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { Queryable } from '../db/pool.js';
import { serverVersion } from '../db/server-version.js';

const run = promisify(execFile);

export class PgToolError extends Error {
  /** True when retrying cannot help (missing or too old tools); false for a failed run. */
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'PgToolError';
  }
}

export async function toolMajorVersion(tool: 'pg_dump' | 'pg_restore'): Promise<number> {
  try {
    const { stdout } = await run(tool, ['--version']);
    const match = /(\d+)(?:\.\d+)?/.exec(stdout);
    if (!match) throw new Error(`unexpected output: ${stdout.trim()}`);
    return Number(match[1]);
  } catch (err) {
    throw new PgToolError(`${tool} is not usable: ${(err as Error).message}. Install the PostgreSQL client tools matching the server.`, true);
  }
}

/**
 * pg_dump and pg_restore handle servers of their own major version and older:
 * the reason they do not suit this server, or undefined when they do.
 */
export function toolsMismatch(server: { major: number; text: string }, tools: { pg_dump: number; pg_restore: number }): string | undefined {
  for (const [tool, major] of Object.entries(tools)) {
    if (major < server.major) {
      return `${tool} ${major} cannot handle PostgreSQL ${server.text} (major ${server.major}): install postgresql-client-${server.major} or newer`;
    }
  }
  return undefined;
}

export async function checkToolsSuitServer(db: Queryable): Promise<{ server: string; dump: number; restore: number }> {
  const [server, dump, restore] = await Promise.all([serverVersion(db), toolMajorVersion('pg_dump'), toolMajorVersion('pg_restore')]);
  const mismatch = toolsMismatch(server, { pg_dump: dump, pg_restore: restore });
  if (mismatch) throw new PgToolError(mismatch, true);
  return { server: server.text, dump, restore };
}

/** Connection for a libpq tool: the URL without its password, which goes in PGPASSWORD. */
export function libpqConnection(databaseUrl: string, database?: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const url = new URL(databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  if (database) url.pathname = `/${encodeURIComponent(database)}`;
  return { dbname: url.toString(), env: password ? { ...process.env, PGPASSWORD: password } : { ...process.env } };
}

export interface RunningTool {
  child: ChildProcess;
  /** Resolves when the tool exits 0; rejects with its stderr otherwise. */
  done: Promise<void>;
}

export function spawnTool(tool: 'pg_dump' | 'pg_restore', args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore'): RunningTool {
  const child = spawn(tool, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new PgToolError(`${tool} could not start: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new PgToolError(`${tool} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
  return { child, done };
}
