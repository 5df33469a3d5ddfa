// A cluster restored by pgBackRest into a new, empty data directory, and,
// when asked, started beside the live one: on its own port, listening on
// 127.0.0.1 only, with WAL archiving off (pgbackrest --archive-mode=off) so
// it can never write into the live stanza. Nothing here touches the live
// cluster: pgBackRest reads the repository, Postgres replays archived WAL.
//
// Starting waits until recovery is complete: Postgres removes recovery.signal
// and says "database system is ready to accept connections" once it has
// promoted. A time target with no transaction after it in the archive ends
// recovery early (Postgres: "recovery ended before configured recovery target
// was reached"): every archived transaction is then before the target, so the
// copy is recovered to the end of the archive instead, which is that state.
import { existsSync } from 'node:fs';
import { appendFile, lstat, mkdir, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { scrubSecrets } from '../../text/scrub-secrets.js';
import { giveToToolUser, pgbackrest, PitrToolError, runTool, serverTool, type PitrSettings, type ToolUser } from './pgbackrest.js';

/** The restore cannot go ahead as asked (non-empty directory, time outside the window, no backup): nothing was changed. */
export class PitrRestoreRefused extends Error {
  override name = 'PitrRestoreRefused';
}

export type RestoreTarget = { time: Date } | { latest: true; set?: string };

export interface StartOptions {
  port: number;
  /** Where the server's Unix socket goes ('' for none: TCP on 127.0.0.1 only). */
  socketDir: string;
  /** A pg_hba.conf of our own for this copy (the drill's: the socket only); else the restored one, or a default when the backup had none. */
  hbaFile?: string;
  /** How long recovery may take, ms (default a day). */
  timeoutMs?: number;
}

export interface RestoredCluster {
  dataDir: string;
  port: number | null;
  /** The last transaction the copy holds (Postgres: "last completed transaction was at log time"); null when not started or none was replayed. */
  recoveredTo: Date | null;
  /** True when the target time was past the archive's last transaction, so the copy holds the whole archive. */
  recoveredToEnd: boolean;
  restoreSeconds: number;
  startSeconds: number;
  /** Stops the copy if it runs (fast shutdown). */
  stop(): Promise<void>;
}

const RESTORE_LOG = path.join('log', 'pitr-restore.log');

/** A time as pgBackRest's --target and Postgres's recovery_target_time take it: "2026-01-01 12:00:00.123+00". */
export function targetText(at: Date): string {
  return `${at.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}

/** "2026-11-30 06:33:43.981966+00" (a Postgres log time, log_timezone UTC) → Date. */
export function parseLogTime(text: string): Date | null {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2})(?::?(\d{2}))?$/.exec(text.trim());
  if (!m) return null;
  const ms = m[3] ? m[3].slice(0, 4).padEnd(4, '0') : '';
  return new Date(`${m[1]}T${m[2]}${ms}${m[4]}:${m[5] ?? '00'}`);
}

/** The last-transaction time Postgres logged at the end of recovery, if any. */
export function lastTransactionTime(log: string): Date | null {
  const all = [...log.matchAll(/last completed transaction was at log time (.+)$/gm)];
  return all.length > 0 ? parseLogTime(all.at(-1)![1]!) : null;
}

/**
 * Refuses a data directory named through a symbolic link: `dir` itself a link
 * (dangling or not), or its nearest existing ancestor not where its path says
 * (realpath differs). The restore, chown and cleanup would otherwise act on
 * wherever the link points.
 * @throws PitrRestoreRefused naming the link and where it leads
 */
async function refuseSymlinks(dir: string): Promise<void> {
  const own = await lstat(dir).catch(() => undefined);
  if (own?.isSymbolicLink()) {
    const to = await readlink(dir).catch(() => '?');
    const dangling = !(await stat(dir).catch(() => undefined));
    throw new PitrRestoreRefused(
      `${dir} is a symbolic link (to ${to}${dangling ? ', which does not exist' : ''}): restore into a real directory, new or empty, named by its own path`,
    );
  }
  let ancestor = path.dirname(dir);
  while (!(await lstat(ancestor).catch(() => undefined)) && path.dirname(ancestor) !== ancestor) ancestor = path.dirname(ancestor);
  const real = await realpath(ancestor).catch(() => undefined);
  if (real !== ancestor) {
    throw new PitrRestoreRefused(
      real === undefined
        ? `${dir} goes through ${ancestor}, which cannot be resolved (a dangling symbolic link?): restore into a real directory, named by its own path`
        : `${dir} goes through a symbolic link: ${ancestor} is really ${real}; name the directory by its real path (${path.join(real, path.relative(ancestor, dir))})`,
    );
  }
}

/**
 * The characters a path may hold when pgBackRest writes it, unquoted, into
 * the restored cluster's restore_command (`pgbackrest --config=FILE
 * --pg1-path=DIR ... archive-get %f "%p"`, inside single quotes, run by a
 * shell): letters, digits and / . _ - + , @ : ~. A quote, a space, a newline,
 * a shell character ($ ` ; & | ...) or Postgres's % would break it or run
 * something else.
 */
const COMMAND_SAFE_PATH = /^[\p{L}\p{N}/._+,@:~-]+$/u;

/**
 * Refuses a path pgBackRest would write unquoted into restore_command with a character that breaks it (COMMAND_SAFE_PATH).
 * @throws PitrRestoreRefused naming the characters
 */
export function checkCommandSafePath(what: string, value: string): void {
  if (COMMAND_SAFE_PATH.test(value)) return;
  const bad = [...new Set([...value].filter((c) => !COMMAND_SAFE_PATH.test(c)))].map((c) => JSON.stringify(c)).join(', ');
  throw new PitrRestoreRefused(
    `${what} ${JSON.stringify(value)} holds ${bad}: pgBackRest writes it unquoted into the restored cluster's restore_command, which that would break; ` +
      'use a path of letters, digits and / . _ - + , @ : ~',
  );
}

/**
 * Whether `dir` (absolute) may receive a restore: absent (true: it will be created) or an empty directory (false).
 * @throws PitrRestoreRefused when it holds anything, is not a directory, is a symbolic link or is named through one, or its
 *   path holds a character restore_command cannot (checkCommandSafePath)
 */
export async function checkEmptyDir(dir: string): Promise<boolean> {
  checkCommandSafePath('the data directory', dir);
  await refuseSymlinks(path.resolve(dir));
  const existing = await lstat(dir).catch(() => undefined);
  if (!existing) return true;
  if (!existing.isDirectory()) throw new PitrRestoreRefused(`${dir} is not a directory: restore into a new, empty directory`);
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new PitrRestoreRefused(
      `${dir} is not empty (${entries.length} entries): point-in-time restores go into a new, empty directory, never over a cluster`,
    );
  }
  return false;
}

/**
 * Makes sure `dir` can receive a restore: absent (created, mode 0700) or an
 * empty directory (given to the tool user). Returns whether it was created.
 * @throws PitrRestoreRefused as checkEmptyDir
 */
export async function prepareEmptyDir(dir: string, user: ToolUser): Promise<boolean> {
  const create = await checkEmptyDir(dir);
  if (create) await mkdir(dir, { recursive: true, mode: 0o700 });
  await giveToToolUser(dir, user);
  return create;
}

/** Empties `dir` again (or removes it, when the restore created it). */
async function undoDir(dir: string, created: boolean): Promise<void> {
  if (created) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  for (const entry of await readdir(dir).catch(() => [])) await rm(path.join(dir, entry), { recursive: true, force: true });
}

const quoted = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** Config files a backup of a cluster whose config lives elsewhere (Debian's /etc/postgresql) lacks, so the copy can start. */
async function ensureConfigFiles(dataDir: string, user: ToolUser): Promise<void> {
  const defaults: Array<[string, string]> = [
    ['postgresql.conf', '# Written by lookout pitr restore: the backup had no postgresql.conf (the live cluster keeps it elsewhere).\n'],
    ['pg_hba.conf', '# Written by lookout pitr restore: the backup had none.\nlocal all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n'],
    ['pg_ident.conf', ''],
  ];
  for (const [name, text] of defaults) {
    const file = path.join(dataDir, name);
    if (existsSync(file)) continue;
    await writeFile(file, text, { mode: 0o600 });
    await giveToToolUser(file, user);
  }
}

/** The settings that make the copy a bystander: its port, 127.0.0.1 only, its own socket, plain stderr logging in English and UTC. */
async function configureCopy(dataDir: string, start: StartOptions, user: ToolUser): Promise<void> {
  await ensureConfigFiles(dataDir, user);
  const settings = [
    '',
    '# Set by lookout pitr restore: a restored copy beside the live cluster (archive_mode is off, above).',
    `port = ${start.port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = ${quoted(start.socketDir)}`,
    'logging_collector = off',
    `log_destination = 'stderr'`,
    `lc_messages = 'C'`,
    `log_timezone = 'UTC'`,
    ...(start.hbaFile ? [`hba_file = ${quoted(start.hbaFile)}`] : []),
    '',
  ];
  await appendFile(path.join(dataDir, 'postgresql.auto.conf'), settings.join('\n'));
  const logDir = path.join(dataDir, 'log');
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  await giveToToolUser(logDir, user);
}

/** Whether the postmaster of `dataDir` is running (its pid file names a live process). */
async function postmasterRunning(dataDir: string): Promise<boolean> {
  const pidText = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(pidText?.split('\n')[0]);
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The log lines that say why a server stopped, scrubbed. */
const failureLines = (log: string): string =>
  log
    .split('\n')
    .filter((l) => /\b(FATAL|PANIC|ERROR):/.test(l))
    .slice(-4)
    .map((l) => scrubSecrets(l))
    .join(' | ');

async function pgCtl(settings: PitrSettings, user: ToolUser, major: string, args: string[]): Promise<void> {
  await runTool(serverTool('pg_ctl', major), args, { settings, user, what: 'pg_ctl', timeoutMs: 180_000 });
}

/** Stops the copy in `dataDir` if it runs. */
export async function stopCluster(settings: PitrSettings, user: ToolUser, major: string, dataDir: string, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  if (!(await postmasterRunning(dataDir))) return;
  await pgCtl(settings, user, major, ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '120']).catch(async (err: unknown) => {
    if (mode === 'immediate') throw err;
    await pgCtl(settings, user, major, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '60']);
  });
}

/** Starts the copy and waits until it has promoted (or fails, saying why). */
async function startAndWait(
  settings: PitrSettings,
  user: ToolUser,
  major: string,
  dataDir: string,
  target: RestoreTarget,
  timeoutMs: number,
): Promise<{ recoveredTo: Date | null; recoveredToEnd: boolean }> {
  const log = path.join(dataDir, RESTORE_LOG);
  const start = () => pgCtl(settings, user, major, ['start', '-D', dataDir, '-l', log, '-W']);
  await start();
  const deadline = Date.now() + timeoutMs;
  let startedAt = Date.now();
  let recoveredToEnd = false;
  let seenRunning = false;
  let offset = 0; // what this start wrote to the log: after a restart, the first run's lines are history
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const whole = await readFile(log, 'utf8').catch(() => '');
    const text = whole.slice(offset);
    const running = await postmasterRunning(dataDir);
    seenRunning ||= running;
    if (running && !existsSync(path.join(dataDir, 'recovery.signal')) && text.includes('database system is ready to accept connections')) {
      return { recoveredTo: lastTransactionTime(whole), recoveredToEnd };
    }
    // Stopped: after it ran, or when it never came up within 30 s of pg_ctl start.
    if (!running && (seenRunning || /\b(FATAL|PANIC):/.test(text) || Date.now() - startedAt > 30_000)) {
      if ('time' in target && !recoveredToEnd && text.includes('recovery ended before configured recovery target was reached')) {
        // Every archived transaction is before the target: recover to the end of the archive, which is that state.
        const auto = path.join(dataDir, 'postgresql.auto.conf');
        const conf = await readFile(auto, 'utf8');
        await writeFile(auto, conf.replace(/^recovery_target_(time|action)\s*=.*$/gm, '# $& (lookout: the archive ends before this time)'));
        recoveredToEnd = true;
        seenRunning = false;
        startedAt = Date.now();
        offset = whole.length;
        await start();
        continue;
      }
      throw new PitrToolError(`the restored cluster stopped during recovery: ${failureLines(text) || 'see its log'} (log: ${log})`);
    }
    if (Date.now() > deadline) throw new PitrToolError(`recovery did not complete within ${Math.round(timeoutMs / 60_000)} min (log: ${log})`);
  }
}

/**
 * Restores the stanza into `dataDir` (absent or empty) as of `target`, and
 * with `start`, starts it there and waits for recovery to complete. Any
 * failure leaves `dataDir` as it was found (empty, or absent).
 * @throws PitrRestoreRefused before anything is written (directory not empty or named through a link, a path restore_command cannot hold)
 * @throws PitrToolError when pgBackRest or Postgres fails (scrubbed)
 */
export async function restoreCluster(
  settings: PitrSettings,
  user: ToolUser,
  request: { target: RestoreTarget; dataDir: string; pgMajor: string; start?: StartOptions },
): Promise<RestoredCluster> {
  const { target, dataDir, pgMajor, start } = request;
  checkCommandSafePath('PGBACKREST_CONFIG', settings.configFile);
  const created = await prepareEmptyDir(dataDir, user);
  let started = false;
  try {
    const t0 = performance.now();
    const targetArgs =
      'time' in target
        ? ['--type=time', `--target=${targetText(target.time)}`, '--target-action=promote']
        : ['--type=default', ...(target.set ? [`--set=${target.set}`] : [])];
    // --config: the restore_command pgBackRest writes names it, so the copy finds the repository however it is started.
    await pgbackrest(settings, user, 'restore', [
      `--config=${settings.configFile}`,
      `--pg1-path=${dataDir}`,
      ...targetArgs,
      ...(start ? ['--archive-mode=off'] : []),
    ]);
    const restoreSeconds = (performance.now() - t0) / 1000;
    const stop = () => stopCluster(settings, user, pgMajor, dataDir);
    if (!start) return { dataDir, port: null, recoveredTo: null, recoveredToEnd: false, restoreSeconds, startSeconds: 0, stop };
    const t1 = performance.now();
    await configureCopy(dataDir, start, user);
    started = true;
    const recovered = await startAndWait(settings, user, pgMajor, dataDir, target, start.timeoutMs ?? 24 * 3600_000);
    return { dataDir, port: start.port, ...recovered, restoreSeconds, startSeconds: (performance.now() - t1) / 1000, stop };
  } catch (err) {
    if (started) await stopCluster(settings, user, pgMajor, dataDir, 'immediate').catch(() => undefined);
    await undoDir(dataDir, created);
    throw err;
  }
}
