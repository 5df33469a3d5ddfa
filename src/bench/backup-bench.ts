// Backup part of `npm run bench`: a generated database of at least the target
// size, backed up and restored by a real ops worker process through the
// queue; MiB/s of both and the worker's peak RSS during each (VmHWM, reset
// between the two with /proc/<pid>/clear_refs). Linux only for the RSS.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { dropDatabaseIfExists, withServer } from '../db/server-admin.js';
import { loadConfig } from '../config/config.js';
import { getBackup } from '../db/repositories/backups.js';
import { BACKUP_QUEUE, type BackupRunResult } from '../jobs/backup-run/definition.js';
import type { RestoreResult } from '../jobs/restore/definition.js';
import { prepareDatabase } from '../runtime/prepare-database.js';
import { deleteQueueKeys, dropDatabase } from '../runtime/scratch-resources.js';
import { openServices } from '../runtime/services.js';
import { requestBackup, requestRestore, waitForJob } from '../producers/backup-requests.js';
import { generateDatabase } from '../db/generate-database.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MIB = 1024 * 1024;

/** Sizes (…Mb) in MiB, rates in MiB/s of the database size. */
export interface BackupBenchResult {
  databaseMb: number;
  rawMb: number;
  storedMb: number;
  backupSeconds: number;
  restoreSeconds: number;
  backupMbPerSec: number;
  restoreMbPerSec: number;
  backupPeakRssMb: number;
  restorePeakRssMb: number;
}

function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not Linux, or not allowed: the restore figure then covers both phases
  }
}

export async function runBackupBench(options: {
  targetMb: number;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}): Promise<BackupBenchResult> {
  const tag = randomBytes(3).toString('hex');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-backup-bench-'));
  const server = options.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const url = new URL(server);
  url.pathname = `/lookout_bench_bk_${tag}`;
  const restored = `lookout_bench_rs_${tag}`;
  const env = {
    ...options.env,
    DATABASE_URL: url.toString(),
    LOOKOUT_QUEUE_PREFIX: `bench_bk_${tag}`,
    BACKUP_DIR: dir,
    BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    BACKUP_VERIFY_AFTER: 'false',
    BACKUP_SCHEDULES: 'false',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  };
  const config = loadConfig(env);
  const services = openServices(config, pino({ level: 'warn' }));
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    await prepareDatabase(services);
    const databaseBytes = await generateDatabase(services.pool, options.targetMb * MIB, (b) =>
      options.log(`backup bench: generated ${(b / MIB).toFixed(0)} MiB`),
    );

    worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'lookout.js'), 'worker', '--queues', BACKUP_QUEUE], {
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      worker!.stdout!.on('data', (d: Buffer) => d.toString().includes('workers started') && resolve());
      worker!.once('exit', (code) => reject(new Error(`ops worker exited with ${code}`)));
    });
    const pid = worker.pid!;
    const queue = services.queues.get(BACKUP_QUEUE)!;

    resetPeakRss(pid);
    let started = performance.now();
    const { job } = await requestBackup(services.queues, 'bench');
    const backup = await waitForJob<BackupRunResult>(queue, job, services.workerRedis, { timeoutMs: 3600_000 });
    const backupSeconds = (performance.now() - started) / 1000;
    const backupPeakRssMb = peakRssMb(pid);
    const record = await getBackup(services.pool, backup.id);

    resetPeakRss(pid);
    started = performance.now();
    const restoreJob = await requestRestore(services.queues, {
      backupId: backup.id,
      targetDatabase: restored,
      replaceLive: false,
      skipSafetyBackup: false,
      actor: 'bench',
    });
    await waitForJob<RestoreResult>(queue, restoreJob, services.workerRedis, { timeoutMs: 3600_000 });
    const restoreSeconds = (performance.now() - started) / 1000;
    const restorePeakRssMb = peakRssMb(pid);

    const databaseMb = databaseBytes / MIB;
    return {
      databaseMb,
      rawMb: (record?.rawBytes ?? NaN) / MIB,
      storedMb: backup.bytes / MIB,
      backupSeconds,
      restoreSeconds,
      backupMbPerSec: databaseMb / backupSeconds,
      restoreMbPerSec: databaseMb / restoreSeconds,
      backupPeakRssMb,
      restorePeakRssMb,
    };
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    await services.close();
    await deleteQueueKeys(config.redisUrl, `bench_bk_${tag}`);
    await withServer(server, (admin) => dropDatabaseIfExists(admin, restored));
    await dropDatabase(server, url.pathname.slice(1));
    await rm(dir, { recursive: true, force: true });
  }
}
