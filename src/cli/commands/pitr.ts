// `lookout pitr backup|status|restore|drill`: point-in-time recovery through
// pgBackRest. backup and drill enqueue on the pitr queue and wait for its
// worker (on the database host); status reads Postgres (and pgBackRest where
// PGBACKREST_CONFIG is set); restore runs here, on the database host, and
// never touches the live cluster.
import net from 'node:net';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { PITR_OFF, pitrSettings } from '../../backups/pitr/backup.js';
import { readRepositoryInfo, recoveryWindow } from '../../backups/pitr/info.js';
import { PitrConfigError, PitrToolError, toolUser } from '../../backups/pitr/pgbackrest.js';
import { checkEmptyDir, PitrRestoreRefused, restoreCluster } from '../../backups/pitr/restore-cluster.js';
import { pitrStatus, type PitrStatus } from '../../backups/pitr/status.js';
import type { Config } from '../../config/config.js';
import { createPool } from '../../db/pool.js';
import { listPitrBackups } from '../../db/repositories/backups.js';
import { readWalArchiving, type WalArchiving } from '../../db/repositories/wal-archiving.js';
import { PITR_BACKUP_TYPES, PITR_QUEUE, type PitrBackupResult } from '../../jobs/pitr-backup/definition.js';
import type { PitrDrillResult } from '../../jobs/pitr-drill/definition.js';
import { waitForJob } from '../../producers/backup-requests.js';
import { requestPitrBackup, requestPitrDrill } from '../../producers/pitr-requests.js';
import { isQueueUnavailable } from '../../redis/queue-redis.js';
import { formatBytes } from '../../text/format.js';
import { scrubJoinedLines } from '../../text/scrub-secrets.js';
import type { CommandDeps } from '../command-deps.js';
import { parsePositiveInt } from '../options.js';
import { withDatabase } from '../with-database.js';
import { withServices } from '../with-services.js';

const HOUR = 3600_000;

interface Io {
  json: boolean;
  out: (line: string) => void;
}

const io = (json: boolean | undefined): Io => ({ json: Boolean(json), out: (line) => process.stdout.write(`${line}\n`) });
const note = (io: Io, line: string): void => void (io.json || process.stderr.write(`${line}\n`));

function failure(io: Io, fields: Record<string, unknown>, code: 1 | 2 = 1): number {
  const shown = { ...fields, error: scrubJoinedLines(String(fields.error)) };
  if (io.json) io.out(JSON.stringify(shown));
  else process.stderr.write(`lookout pitr: ${shown.error}\n`);
  return code;
}

/**
 * --to: an ISO 8601 time with its zone (Z or ±HH:MM), so nobody restores to
 * the wrong hour, naming an instant that exists as written: no Feb 30, no
 * 24:00, no minute or second 60 (JavaScript's Date would roll them over).
 * @throws InvalidArgumentError (the CLI exits 2)
 */
export function parseIsoTime(value: string): Date {
  const text = value.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2})(?::?(\d{2}))?)$/i.exec(text);
  const at = new Date(text.replace(' ', 'T'));
  if (!m || Number.isNaN(at.getTime()))
    throw new InvalidArgumentError('expected an ISO 8601 time with its zone, such as 2026-05-01T12:30:00Z or 2026-05-01T14:30:00+02:00.');
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const wall = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const asWritten =
    wall.getUTCFullYear() === year &&
    wall.getUTCMonth() === month - 1 &&
    wall.getUTCDate() === day &&
    wall.getUTCHours() === hour &&
    wall.getUTCMinutes() === minute &&
    wall.getUTCSeconds() === second &&
    Number(m[9] ?? 0) <= 23 &&
    Number(m[10] ?? 0) <= 59;
  if (!asWritten)
    throw new InvalidArgumentError(`${text} is not a time that exists (no such day, hour, minute or second, or zone): write the instant as it reads.`);
  return at;
}

function parsePort(value: string): number {
  const n = parsePositiveInt(value);
  if (n > 65_535) throw new InvalidArgumentError('expected a port from 1 to 65535.');
  return n;
}

function parseBackupType(value: string): (typeof PITR_BACKUP_TYPES)[number] {
  if (!(PITR_BACKUP_TYPES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${PITR_BACKUP_TYPES.join(', ')}.`);
  return value as (typeof PITR_BACKUP_TYPES)[number];
}

/** Whether something listens on 127.0.0.1:port already. */
async function portTaken(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/** The archiver's record when DATABASE_URL answers within 5 s; undefined otherwise (a restore goes on without it). */
async function archiverIfReachable(config: Config): Promise<WalArchiving | undefined> {
  const pool = createPool(config.databaseUrl, 1);
  pool.on('error', () => undefined);
  try {
    return await Promise.race([readWalArchiving(pool), new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000).unref())]);
  } catch {
    return undefined;
  } finally {
    void pool.end().catch(() => undefined);
  }
}

function statusLines(s: PitrStatus): string[] {
  const a = s.archiving;
  const iso = (d: Date | null) => (d ? d.toISOString() : '-');
  return [
    `stanza ${s.stanza}`,
    `archiving: ${a.mode === 'off' ? 'off (archive_mode = off)' : `last ${a.lastArchivedWal ?? '-'} at ${iso(a.lastArchivedAt)}, ${a.failedCount} failed, lag ${a.lagSeconds ?? '-'} s`}`,
    `recovery window: ${s.recoveryWindow ? `${s.recoveryWindow.from.toISOString()} to ${s.recoveryWindow.to.toISOString()}` : '-'}`,
    ...s.backups.map((b) => `  ${b.label}  ${b.type.padEnd(4)}  ${b.finishedAt.toISOString()}  ${formatBytes(b.bytes).padStart(10)}`),
  ];
}

export function register(program: Command, deps: CommandDeps): void {
  const pitr = program.command('pitr').description('point-in-time recovery through pgBackRest: backups, status, restore to any second, drills');

  pitr
    .command('backup')
    .description('a pgBackRest backup of the cluster now, by the pitr worker on the database host; waits for it')
    .option('--type <type>', `${PITR_BACKUP_TYPES.join(', ')} (default full)`, parseBackupType, 'full' as const)
    .option('--json', 'print {"id", "status", "type", "label", "startedAt", "finishedAt", "bytes"}')
    .action(async (opts: { type: (typeof PITR_BACKUP_TYPES)[number]; json?: boolean }) => {
      const config = deps.config();
      const out = io(opts.json);
      process.exitCode = await withServices(config, async (services) => {
        const { id, job } = await requestPitrBackup(services.queues, opts.type, 'cli');
        try {
          const result = await waitForJob<PitrBackupResult>(services.queues.get(PITR_QUEUE)!, job, services.workerRedis, { timeoutMs: 12 * HOUR });
          out.out(
            out.json
              ? JSON.stringify(result)
              : `pitr backup ${result.id} succeeded: ${result.type} ${result.label}, ${formatBytes(result.bytes)} stored, ${result.startedAt} to ${result.finishedAt}`,
          );
          return 0;
        } catch (err) {
          if (isQueueUnavailable(err)) throw err;
          return failure(out, { id, status: 'failed', error: (err as Error).message });
        }
      });
    });

  pitr
    .command('status')
    .description('WAL archiving (from Postgres), the pgBackRest backups and the recovery window')
    .option('--json', 'print {"stanza", "archiving": {...}, "backups": [...], "recoveryWindow": {"from", "to"}}')
    .action(async (opts: { json?: boolean }) => {
      const config = deps.config();
      const out = io(opts.json);
      process.exitCode = await withDatabase(config, async (pool) => {
        try {
          const status = await pitrStatus({
            stanza: config.pitr.stanza,
            settings: config.pitr.configFile ? pitrSettings(config.pitr) : undefined,
            archiving: await readWalArchiving(pool),
            catalogued: () => listPitrBackups(pool),
          });
          // On stderr even with --json: the answer is partial, and whoever reads it should know why.
          if (!config.pitr.configFile)
            process.stderr.write('lookout pitr: PGBACKREST_CONFIG is not set here: backups from the catalogue, no recovery window\n');
          out.out(out.json ? JSON.stringify(status) : statusLines(status).join('\n'));
          return 0;
        } catch (err) {
          if (!(err instanceof PitrToolError)) throw err;
          return failure(out, { status: 'failed', error: err.message }, err instanceof PitrConfigError ? 2 : 1);
        }
      });
    });

  pitr
    .command('restore')
    .description(
      'restore the cluster as of a time into a new, empty data directory (on the database host, as its OS user); with --port, start it there ' +
        '(127.0.0.1 only, archiving off) and wait until recovery is complete. Never touches the live cluster',
    )
    .requiredOption('--to <iso-time>', 'the instant to restore to, ISO 8601 with its zone', parseIsoTime)
    .requiredOption('--pg-data <dir>', 'a new or empty directory for the restored cluster')
    .option('--port <n>', 'start the restored cluster on this port', parsePort)
    .option('--json', 'print {"dataDir", "port", "recoveredTo"}')
    .action(async (opts: { to: Date; pgData: string; port?: number; json?: boolean }) => {
      const config = deps.config();
      const out = io(opts.json);
      const dataDir = path.resolve(opts.pgData);
      if (!config.pitr.configFile) {
        process.exitCode = failure(out, { status: 'not_configured', error: PITR_OFF }, 2);
        return;
      }
      const settings = pitrSettings(config.pitr);
      try {
        await checkEmptyDir(dataDir); // before asking pgBackRest anything
        const user = await toolUser(settings);
        const info = await readRepositoryInfo(settings, user);
        const window = await recoveryWindow(settings, user, info, await archiverIfReachable(config));
        if (!window || !info.pgVersion) throw new PitrRestoreRefused(`stanza "${settings.stanza}" holds no backup: nothing to restore (lookout pitr backup)`);
        if (opts.to < window.from || opts.to > window.to) {
          throw new PitrRestoreRefused(
            `${opts.to.toISOString()} is outside the recovery window, from ${window.from.toISOString()} to ${window.to.toISOString()}`,
          );
        }
        if (opts.port !== undefined && (await portTaken(opts.port))) throw new PitrRestoreRefused(`port ${opts.port} on 127.0.0.1 is taken: pick a free one`);
        note(out, `lookout pitr: restoring stanza ${settings.stanza} as of ${opts.to.toISOString()} into ${dataDir}`);
        // The server's socket beside its data when the path is short enough for one (108 bytes), else TCP only.
        const socketDir = opts.port !== undefined && `${dataDir}/.s.PGSQL.${opts.port}`.length < 100 ? dataDir : '';
        const restored = await restoreCluster(settings, user, {
          target: { time: opts.to },
          dataDir,
          pgMajor: info.pgVersion,
          ...(opts.port !== undefined ? { start: { port: opts.port, socketDir } } : {}),
        });
        const result = { dataDir, port: restored.port, recoveredTo: restored.recoveredTo?.toISOString() ?? null };
        if (out.json) out.out(JSON.stringify(result));
        else if (restored.port === null) {
          out.out(`restored into ${dataDir}; start it with pg_ctl -D ${dataDir} start (it recovers to ${opts.to.toISOString()} and promotes)`);
        } else {
          out.out(
            `restored into ${dataDir}, recovered to ${result.recoveredTo ?? 'the backup'}${restored.recoveredToEnd ? ' (the end of the archive: nothing after it was archived before the target)' : ''}; ` +
              `running on 127.0.0.1:${restored.port} with archiving off (stop it: pg_ctl -D ${dataDir} stop)`,
          );
        }
        process.exitCode = 0;
      } catch (err) {
        if (err instanceof PitrRestoreRefused) process.exitCode = failure(out, { status: 'refused', error: err.message });
        else if (err instanceof PitrToolError)
          process.exitCode = failure(out, { status: 'failed', error: err.message }, err instanceof PitrConfigError ? 2 : 1);
        else throw err;
      }
    });

  pitr
    .command('drill')
    .description('a restore drill now: the latest point restored into a scratch directory, checked, RPO and RTO recorded, removed')
    .option('--json', 'print {"id", "label", "status", "rpoSeconds", "rtoSeconds", "recoveredTo", ...}')
    .action(async (opts: { json?: boolean }) => {
      const config = deps.config();
      const out = io(opts.json);
      process.exitCode = await withServices(config, async (services) => {
        const job = await requestPitrDrill(services.queues, 'cli');
        try {
          const result = await waitForJob<PitrDrillResult>(services.queues.get(PITR_QUEUE)!, job, services.workerRedis, { timeoutMs: 12 * HOUR });
          out.out(
            out.json
              ? JSON.stringify(result)
              : `pitr drill of ${result.label} passed: RPO ${result.rpoSeconds ?? '-'} s, RTO ${result.rtoSeconds} s, ${result.indexesChecked} indexes checked`,
          );
          return 0;
        } catch (err) {
          if (isQueueUnavailable(err)) throw err;
          return failure(out, { status: 'failed', error: (err as Error).message });
        }
      });
    });
}
