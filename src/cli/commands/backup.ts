// `lookout backup run|list|verify|restore`: enqueue on the backup queue, wait
// for the ops worker, print JSON (--json) or a progress bar and a summary.
// A backup id is checked before anything is enqueued: not a UUID exits 2,
// an unknown one exits 1, and neither leaves a failed job behind.
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import { BACKUPS_OFF } from '../../config/config-warnings.js';
import { backupSummary, getBackup, listBackups } from '../../db/repositories/backups.js';
import type { Pool } from '../../db/pool.js';
import { BACKUP_QUEUE, type BackupRunResult } from '../../jobs/backup-run/definition.js';
import type { BackupVerifyResult } from '../../jobs/backup-verify/definition.js';
import type { RestoreResult } from '../../jobs/restore/definition.js';
import { withServices } from '../with-services.js';
import type { CommandDeps } from '../command-deps.js';
import { formatBytes } from '../../text/format.js';
import {
  BackupsDisabledError,
  BackupUnusableError,
  checkRestorable,
  InvalidBackupRequestError,
  requestBackup,
  requestRestore,
  requestVerify,
  waitForJob,
} from '../../producers/backup-requests.js';
import { isQueueUnavailable } from '../../redis/queue-redis.js';

const HOUR = 3600_000;

/** A backup id argument: a UUID (as `backup list` prints), or commander exits 2 saying so. */
export function parseBackupId(value: string): string {
  if (!z.uuid().safeParse(value).success) throw new InvalidArgumentError('expected a backup id, a UUID as `lookout backup list` prints.');
  return value;
}

interface Io {
  json: boolean;
  out: (line: string) => void;
}

/**
 * A byte progress bar while the job reports progress ({rawBytes,
 * estimatedBytes}), sizes in binary units as everywhere else (formatBytes).
 * Only on a terminal, never with --json.
 */
export function progressBar(io: Pick<Io, 'json'>, label: string, stream: NodeJS.WriteStream = process.stderr) {
  if (io.json || !stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {size}`, stream, hideCursor: true });
  let started = false;
  return {
    update(progress: unknown) {
      const p = progress as { rawBytes?: number; estimatedBytes?: number };
      if (typeof p?.rawBytes !== 'number') return;
      const total = Math.max(p.estimatedBytes ?? p.rawBytes, p.rawBytes, 1);
      if (!started) {
        bar.start(total, 0, { size: formatBytes(0) });
        started = true;
      }
      bar.setTotal(total);
      bar.update(p.rawBytes, { size: formatBytes(p.rawBytes) });
    },
    stop: () => started && bar.stop(),
  };
}

function failure(io: Io, fields: Record<string, unknown>, code = 1): number {
  if (io.json) io.out(JSON.stringify(fields));
  else process.stderr.write(`lookout backup: ${String(fields.error)}\n`);
  return code;
}

/** A request the job would refuse: exit 2, as for a bad argument. */
const usage = (io: Io, fields: Record<string, unknown>): number => failure(io, fields, 2);

/**
 * Why backup `id` cannot be verified or restored here, printed, as an exit
 * status (1 no such backup or no file, 2 backups off); undefined when it can.
 */
async function refusal(io: Io, id: string, pool: Pool, config: Config): Promise<number | undefined> {
  const backup = await getBackup(pool, id);
  if (!backup) return failure(io, { id, status: 'not_found', error: `no backup ${id} (lookout backup list shows them)` });
  try {
    checkRestorable(backup, config.backup);
    return undefined;
  } catch (err) {
    if (err instanceof BackupsDisabledError) return usage(io, { id, status: 'backups_disabled', error: err.message });
    if (err instanceof BackupUnusableError) return failure(io, { id, status: 'backup_unusable', error: err.message });
    throw err;
  }
}

export function register(program: Command, deps: CommandDeps): void {
  const backup = program.command('backup').description('encrypted database backups, verified by a real restore');
  const io = (json: boolean | undefined): Io => ({ json: Boolean(json), out: (line) => process.stdout.write(`${line}\n`) });

  backup
    .command('run')
    .description('back up the database now and wait for the result')
    .option('--json', 'print {"id", "status", "file", "bytes", "sha256"}')
    .action(async (opts: { json?: boolean }) => {
      const config = deps.config();
      if (!config.backup.key) {
        // The worker would refuse it: say so here, and leave no failed job behind.
        process.exitCode = usage(io(opts.json), { status: 'backups_disabled', error: BACKUPS_OFF });
        return;
      }
      process.exitCode = await withServices(config, async (services) => {
        const out = io(opts.json);
        const queue = services.queues.get(BACKUP_QUEUE)!;
        const { id, job } = await requestBackup(services.queues, 'cli');
        const bar = progressBar(out, 'backup');
        try {
          const result = await waitForJob<BackupRunResult>(queue, job, services.workerRedis, { timeoutMs: 6 * HOUR, onProgress: (p) => bar.update(p) });
          bar.stop();
          out.out(out.json ? JSON.stringify(result) : `backup ${result.id} succeeded: ${result.file} (${formatBytes(result.bytes)}, sha256 ${result.sha256})`);
          return 0;
        } catch (err) {
          bar.stop();
          if (isQueueUnavailable(err)) throw err; // Redis away: withServices names it
          return failure(out, { id, status: 'failed', error: (err as Error).message });
        }
      });
    });

  backup
    .command('list')
    .description('the backup catalogue, newest first')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const config = deps.config();
      await withServices(config, async (services) => {
        const rows = await listBackups(services.pool);
        const out = io(opts.json);
        if (out.json) {
          out.out(JSON.stringify(rows.map(backupSummary)));
          return;
        }
        for (const b of rows) {
          out.out(
            [
              b.createdAt.toISOString(),
              b.id,
              b.status.padEnd(13),
              b.trigger.padEnd(9),
              (b.storedBytes === null ? '-' : formatBytes(b.storedBytes)).padStart(10),
              b.error ?? '',
            ].join('  '),
          );
        }
      });
    });

  backup
    .command('verify')
    .description('restore a backup into a scratch database and compare it with its manifest')
    .argument('<id>', 'backup id (a UUID)', parseBackupId)
    .option('--json', 'print {"id", "status", "error"?}')
    .action(async (id: string, opts: { json?: boolean }) => {
      const config = deps.config();
      process.exitCode = await withServices(config, async (services) => {
        const out = io(opts.json);
        const queue = services.queues.get(BACKUP_QUEUE)!;
        const refused = await refusal(out, id, services.pool, config);
        if (refused !== undefined) return refused;
        try {
          const job = await requestVerify(services.queues, id, 'cli');
          const bar = progressBar(out, 'verify');
          const result = await waitForJob<BackupVerifyResult>(queue, job, services.workerRedis, {
            timeoutMs: 6 * HOUR,
            onProgress: (p) => bar.update(p),
          }).finally(() => bar.stop());
          out.out(out.json ? JSON.stringify(result) : `backup ${id}: ${result.status}${result.error ? `: ${result.error}` : ''}`);
          return result.status === 'verified' ? 0 : 1;
        } catch (err) {
          if (err instanceof InvalidBackupRequestError) return usage(out, { id, status: 'bad_request', error: err.message });
          if (isQueueUnavailable(err)) throw err; // Redis away: withServices names it, not a failed verify
          return failure(out, { id, status: 'verify_failed', error: (err as Error).message });
        }
      });
    });

  backup
    .command('restore')
    .description(
      'restore a backup into a new database (or, with --replace-live, over the live one after a safety backup; ' +
        'the live audit trail, API keys and backup catalogue are carried over, and unfinished batches refuse it)',
    )
    .argument('<id>', 'backup id (a UUID)', parseBackupId)
    .option('--target-database <name>', 'database to create (default lookout_restored_<timestamp>)')
    .option('--replace-live', 'replace the live database (a safety backup is taken first)')
    .option('--skip-safety-backup', 'with --replace-live: do not take the safety backup')
    .option(
      '--allow-running-batches',
      'with --replace-live: go ahead while batches are queued or running (their work is lost; their ids go into the audit row)',
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (
        id: string,
        opts: { targetDatabase?: string; replaceLive?: boolean; skipSafetyBackup?: boolean; allowRunningBatches?: boolean; json?: boolean },
      ) => {
        const config = deps.config();
        process.exitCode = await withServices(config, async (services) => {
          const out = io(opts.json);
          const queue = services.queues.get(BACKUP_QUEUE)!;
          const refused = await refusal(out, id, services.pool, config);
          if (refused !== undefined) return refused;
          try {
            const job = await requestRestore(services.queues, {
              backupId: id,
              ...(opts.targetDatabase ? { targetDatabase: opts.targetDatabase } : {}),
              replaceLive: Boolean(opts.replaceLive),
              skipSafetyBackup: Boolean(opts.skipSafetyBackup),
              allowRunningBatches: Boolean(opts.allowRunningBatches),
              actor: 'cli',
            });
            const bar = progressBar(out, 'restore');
            const result = await waitForJob<RestoreResult>(queue, job, services.workerRedis, { timeoutMs: 6 * HOUR, onProgress: (p) => bar.update(p) }).finally(
              () => bar.stop(),
            );
            out.out(
              out.json
                ? JSON.stringify(result)
                : `backup ${id} restored into ${result.database}${result.previous ? ` (the previous live database is kept as ${result.previous})` : ''}`,
            );
            return 0;
          } catch (err) {
            if (err instanceof InvalidBackupRequestError) return usage(out, { id, status: 'bad_request', error: err.message });
            if (isQueueUnavailable(err)) throw err; // Redis away: withServices names it, not a failed restore
            return failure(out, { id, status: 'failed', error: (err as Error).message });
          }
        });
      },
    );
}
