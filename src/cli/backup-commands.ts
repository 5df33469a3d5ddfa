// `lookout backup run|list|verify|restore`: enqueue on the backup queue, wait
// for the ops worker, print JSON (--json) or a progress bar and a summary.
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import { backupSummary, listBackups } from '../db/repositories/backups.js';
import { BACKUP_QUEUE, type BackupRunResult } from '../jobs/backup-run/definition.js';
import type { BackupVerifyResult } from '../jobs/backup-verify/definition.js';
import type { RestoreResult } from '../jobs/restore/definition.js';
import { withServices } from './with-services.js';
import { requestBackup, requestRestore, requestVerify, waitForJob } from '../services/backup-requests.js';

const HOUR = 3600_000;

interface Io {
  json: boolean;
  out: (line: string) => void;
}

/** A byte progress bar on stderr while the job reports progress (not with --json). */
function progressBar(io: Io, label: string) {
  if (io.json || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {mb} MB`, stream: process.stderr, hideCursor: true });
  let started = false;
  return {
    update(progress: unknown) {
      const p = progress as { rawBytes?: number; estimatedBytes?: number };
      if (typeof p?.rawBytes !== 'number') return;
      const total = Math.max(p.estimatedBytes ?? p.rawBytes, p.rawBytes, 1);
      if (!started) {
        bar.start(total, 0, { mb: '0' });
        started = true;
      }
      bar.setTotal(total);
      bar.update(p.rawBytes, { mb: (p.rawBytes / 1e6).toFixed(1) });
    },
    stop: () => started && bar.stop(),
  };
}

function failure(io: Io, fields: Record<string, unknown>): number {
  if (io.json) io.out(JSON.stringify(fields));
  else process.stderr.write(`lookout backup: ${String(fields.error)}\n`);
  return 1;
}

export function registerBackupCommands(program: Command, configOrExit: () => Config): void {
  const backup = program.command('backup').description('encrypted database backups, verified by a real restore');
  const io = (json: boolean | undefined): Io => ({ json: Boolean(json), out: (line) => process.stdout.write(`${line}\n`) });

  backup
    .command('run')
    .description('back up the database now and wait for the result')
    .option('--json', 'print {"id", "status", "file", "bytes", "sha256"}')
    .action(async (opts: { json?: boolean }) => {
      const config = configOrExit();
      process.exitCode = await withServices(config, async (services) => {
        const out = io(opts.json);
        const queue = services.queues.get(BACKUP_QUEUE)!;
        const { id, job } = await requestBackup(queue, 'cli');
        const bar = progressBar(out, 'backup');
        try {
          const result = await waitForJob<BackupRunResult>(queue, job, services.workerRedis, { timeoutMs: 6 * HOUR, onProgress: (p) => bar.update(p) });
          bar.stop();
          out.out(out.json ? JSON.stringify(result) : `backup ${result.id} succeeded: ${result.file} (${result.bytes} bytes, sha256 ${result.sha256})`);
          return 0;
        } catch (err) {
          bar.stop();
          return failure(out, { id, status: 'failed', error: (err as Error).message });
        }
      });
    });

  backup
    .command('list')
    .description('the backup catalogue, newest first')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const config = configOrExit();
      await withServices(config, async (services) => {
        const rows = await listBackups(services.pool);
        const out = io(opts.json);
        if (out.json) {
          out.out(JSON.stringify(rows.map(backupSummary)));
          return;
        }
        for (const b of rows) {
          out.out([b.createdAt.toISOString(), b.id, b.status.padEnd(13), b.trigger.padEnd(9), b.storedBytes ?? '-', b.error ?? ''].join('  '));
        }
      });
    });

  backup
    .command('verify')
    .description('restore a backup into a scratch database and compare it with its manifest')
    .argument('<id>', 'backup id')
    .option('--json', 'print {"id", "status", "error"?}')
    .action(async (id: string, opts: { json?: boolean }) => {
      const config = configOrExit();
      process.exitCode = await withServices(config, async (services) => {
        const out = io(opts.json);
        const queue = services.queues.get(BACKUP_QUEUE)!;
        try {
          const job = await requestVerify(queue, id, 'cli');
          const bar = progressBar(out, 'verify');
          const result = await waitForJob<BackupVerifyResult>(queue, job, services.workerRedis, { timeoutMs: 6 * HOUR, onProgress: (p) => bar.update(p) }).finally(() => bar.stop());
          out.out(out.json ? JSON.stringify(result) : `backup ${id}: ${result.status}${result.error ? `: ${result.error}` : ''}`);
          return result.status === 'verified' ? 0 : 1;
        } catch (err) {
          return failure(out, { id, status: 'verify_failed', error: (err as Error).message });
        }
      });
    });

  backup
    .command('restore')
    .description('restore a backup into a new database (or, with --replace-live, over the live one after a safety backup)')
    .argument('<id>', 'backup id')
    .option('--target-database <name>', 'database to create (default lookout_restored_<timestamp>)')
    .option('--replace-live', 'replace the live database (a safety backup is taken first)')
    .option('--skip-safety-backup', 'with --replace-live: do not take the safety backup')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { targetDatabase?: string; replaceLive?: boolean; skipSafetyBackup?: boolean; json?: boolean }) => {
      const config = configOrExit();
      process.exitCode = await withServices(config, async (services) => {
        const out = io(opts.json);
        const queue = services.queues.get(BACKUP_QUEUE)!;
        try {
          const job = await requestRestore(queue, {
            backupId: id,
            ...(opts.targetDatabase ? { targetDatabase: opts.targetDatabase } : {}),
            replaceLive: Boolean(opts.replaceLive),
            skipSafetyBackup: Boolean(opts.skipSafetyBackup),
            actor: 'cli',
          });
          const bar = progressBar(out, 'restore');
          const result = await waitForJob<RestoreResult>(queue, job, services.workerRedis, { timeoutMs: 6 * HOUR, onProgress: (p) => bar.update(p) }).finally(() => bar.stop());
          out.out(out.json ? JSON.stringify(result) : `backup ${id} restored into ${result.database}${result.previous ? ` (the previous live database is kept as ${result.previous})` : ''}`);
          return 0;
        } catch (err) {
          return failure(out, { id, status: 'failed', error: (err as Error).message });
        }
      });
    });
}
