// Running pgBackRest and the PostgreSQL server tools for point-in-time
// recovery. Always execFile with an argument array (never a shell), with
// pgBackRest's own environment passed through (PGBACKREST_CONFIG,
// PGBACKREST_STANZA and any other PGBACKREST_* the operator set) and little
// else of Lookout's (toolEnv: none of its secrets): its secrets
// stay in its config file, and whatever it writes to stderr is scrubbed
// before it reaches an error, a log or a job.
//
// Who runs them: this process's user, the database's OS user where the pitr
// worker is meant to run. A process running as root runs them as the owner of
// PGBACKREST_CONFIG (pgBackRest's user guide makes the file the postgres
// user's): Postgres refuses to start as root, and pgBackRest run as root
// would leave repository files the archiver cannot write next to.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown } from 'node:fs/promises';
import { checkConfigFileTrust, UntrustedConfigFileError } from '../../security/config-file-trust.js';
import { scrubJoinedLines, scrubSecrets } from '../../text/scrub-secrets.js';

/** pgBackRest's settings, as PGBACKREST_CONFIG and PGBACKREST_STANZA name them. */
export interface PitrSettings {
  configFile: string;
  stanza: string;
}

/** The OS user pgBackRest and the server tools run as: undefined for this process's own. */
export type ToolUser = { uid: number; gid: number } | undefined;

/**
 * pgBackRest or a server tool failed, or cannot run here. The message is
 * scrubbed of secrets (a tool's output reaches it through lastLines, each line
 * scrubbed): it is what the CLI prints, the worker logs, BullMQ keeps as the
 * job's failedReason and backups.error and the audit log record.
 */
export class PitrToolError extends Error {
  override name = 'PitrToolError';
  constructor(
    message: string,
    /** True when retrying cannot help (not installed, not configured, refused). */
    readonly permanent = false,
  ) {
    super(scrubJoinedLines(message));
  }
}

/** PGBACKREST_CONFIG cannot be trusted or used as it is (its mode, its owner, its directory): permanent; the CLI exits 2. */
export class PitrConfigError extends PitrToolError {
  override name = 'PitrConfigError';
  constructor(message: string) {
    super(message, true);
  }
}

/**
 * The user to run the tools as: this process's own (undefined), or when it
 * is root, PGBACKREST_CONFIG's owner. The file must be one only its owner may
 * change (checkConfigFileTrust: not group- or world-writable, nor its
 * directory), owned by the user the tools run as: this process's, or root.
 * @throws PitrConfigError when the file cannot be trusted or read, is another user's, or root owns it and this process is root
 */
export async function toolUser(settings: PitrSettings): Promise<ToolUser> {
  const file = settings.configFile;
  const owner = await checkConfigFileTrust(file, 'PGBACKREST_CONFIG').catch((err: unknown) => {
    throw err instanceof UntrustedConfigFileError ? new PitrConfigError(err.message) : err;
  });
  const self = process.getuid?.();
  if (self === undefined) return undefined;
  if (self !== 0) {
    if (owner.uid !== self && owner.uid !== 0) {
      throw new PitrConfigError(
        `PGBACKREST_CONFIG ${file} is owned by uid ${owner.uid}, neither this process's user (uid ${self}), whom pgbackrest runs as, nor root: ` +
          `run Lookout's pitr work as the file's owner, or chown the file to uid ${self}`,
      );
    }
    return undefined;
  }
  if (owner.uid === 0) {
    throw new PitrConfigError(
      `this process runs as root, and root owns PGBACKREST_CONFIG (${file}): run Lookout's pitr work as the database's OS user ` +
        `(runuser -u postgres -- lookout ...), or chown the file to that user, whom Lookout then runs pgbackrest and pg_ctl as`,
    );
  }
  return { uid: owner.uid, gid: owner.gid };
}

/** Gives `path` to the tool user (when this process is root), so pgbackrest and Postgres may write there. */
export async function giveToToolUser(path: string, user: ToolUser): Promise<void> {
  if (user) await chown(path, user.uid, user.gid);
}

/** libpq's connection variables (pgBackRest and the server tools connect with libpq); PGPASSWORD is not among them. */
const LIBPQ_VARIABLES = new Set([
  'PGHOST',
  'PGHOSTADDR',
  'PGPORT',
  'PGUSER',
  'PGDATABASE',
  'PGPASSFILE',
  'PGSERVICE',
  'PGSERVICEFILE',
  'PGSSLMODE',
  'PGSSLROOTCERT',
  'PGSSLCERT',
  'PGSSLKEY',
  'PGSSLCRL',
  'PGCONNECT_TIMEOUT',
  'PGAPPNAME',
  'PGSYSCONFDIR',
  'PGTZ',
]);

/** Variables a tool needs from this process's environment: where programs are, home, locale, zone, scratch space. */
const PASSED = new Set(['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR']);

/**
 * The environment of every tool (pgbackrest, pg_ctl, and the postmaster
 * pg_ctl starts): only what they use from this process's (PATH, HOME,
 * LANG/LC_*, TZ, TMPDIR, PGBACKREST_*, libpq's connection variables), with
 * pgBackRest's settings as its own variables say them. Lookout's own
 * (DATABASE_URL, BACKUP_ENCRYPTION_KEY, API keys...) never reach them.
 */
export function toolEnv(settings: PitrSettings, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept = Object.entries(env).filter(
    ([name, value]) => value !== undefined && (PASSED.has(name) || name.startsWith('LC_') || name.startsWith('PGBACKREST_') || LIBPQ_VARIABLES.has(name)),
  );
  return { ...Object.fromEntries(kept), PGBACKREST_CONFIG: settings.configFile, PGBACKREST_STANZA: settings.stanza, LC_MESSAGES: 'C' };
}

/** The last lines of a tool's output that say what went wrong, each scrubbed on its own, then joined with " | ". */
export function lastLines(text: string, n = 6): string {
  return text
    .trim()
    .split('\n')
    .slice(-n)
    .map((line) => scrubSecrets(line).replace(/\s+/g, ' '))
    .join(' | ');
}

/**
 * pgBackRest's exit codes for an error in its configuration or options
 * (ConfigError 27, FormatError 29 (the ini file, a wrong cipher pass),
 * CommandRequiredError 30, OptionInvalid*Error 31-36, OptionRequiredError 37):
 * running it again cannot help until someone edits the file.
 */
export const PGBACKREST_CONFIG_EXITS: ReadonlySet<number> = new Set([27, 29, 30, 31, 32, 33, 34, 35, 36, 37]);

/**
 * Runs `file` with `args` (no shell) as `user`; resolves with its stdout.
 * @throws PitrToolError as runToolOutput
 */
export async function runTool(
  file: string,
  args: readonly string[],
  options: { settings: PitrSettings; user: ToolUser; what?: string; timeoutMs?: number; cwd?: string },
): Promise<string> {
  return (await runToolOutput(file, args, options)).stdout;
}

/**
 * Runs `file` with `args` (no shell) as `user`; resolves with its stdout and
 * its stderr (raw: scrub it before showing it).
 * @throws PitrToolError naming the tool, its exit and the end of its stderr (scrubbed); permanent when the tool is missing,
 *   or when pgbackrest exits with a configuration error (PGBACKREST_CONFIG_EXITS)
 */
export function runToolOutput(
  file: string,
  args: readonly string[],
  options: { settings: PitrSettings; user: ToolUser; what?: string; timeoutMs?: number; cwd?: string },
): Promise<{ stdout: string; stderr: string }> {
  const what = options.what ?? file;
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        env: toolEnv(options.settings),
        maxBuffer: 64 * 1024 * 1024,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: 'SIGTERM' as const } : {}),
        ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        // execFile's error: code is the exit status (a number), or an errno name when the tool did not start.
        const code = (err as { code?: number | string }).code;
        if (code === 'ENOENT') {
          reject(new PitrToolError(`${what} is not installed here (${file} not found)${file === 'pgbackrest' ? ': apt-get install pgbackrest' : ''}`, true));
          return;
        }
        const exit = typeof code === 'number' ? `exit ${code}` : ((err as { signal?: string | null }).signal ?? String(code ?? 'failed'));
        const configError = file === 'pgbackrest' && typeof code === 'number' && PGBACKREST_CONFIG_EXITS.has(code);
        reject(
          new PitrToolError(
            `${what} failed (${exit}${configError ? ': an error in its configuration, not retried' : ''}): ${lastLines(stderr || stdout) || 'no output'}`,
            configError,
          ),
        );
      },
    );
  });
}

/**
 * Runs `pgbackrest --stanza=STANZA [options] COMMAND [parameters]`; resolves with its stdout.
 * @throws PitrToolError as runTool
 */
export async function pgbackrest(
  settings: PitrSettings,
  user: ToolUser,
  command: string,
  options: readonly string[] = [],
  run: { timeoutMs?: number; parameters?: readonly string[] } = {},
): Promise<string> {
  return (await pgbackrestOutput(settings, user, command, options, run)).stdout;
}

/**
 * As pgbackrest, resolving with its stdout and its (raw) stderr.
 * @throws PitrToolError as runTool
 */
export function pgbackrestOutput(
  settings: PitrSettings,
  user: ToolUser,
  command: string,
  options: readonly string[] = [],
  run: { timeoutMs?: number; parameters?: readonly string[] } = {},
): Promise<{ stdout: string; stderr: string }> {
  return runToolOutput('pgbackrest', [`--stanza=${settings.stanza}`, ...options, command, ...(run.parameters ?? [])], {
    settings,
    user,
    what: `pgbackrest ${command}`,
    ...(run.timeoutMs ? { timeoutMs: run.timeoutMs } : {}),
  });
}

/** A PostgreSQL server tool (pg_ctl) of `major`: Debian's versioned directory when present, else the one on PATH. */
export function serverTool(tool: 'pg_ctl' | 'postgres', major: string): string {
  const versioned = `/usr/lib/postgresql/${major}/bin/${tool}`;
  return existsSync(versioned) ? versioned : tool;
}
