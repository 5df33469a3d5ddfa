// Point-in-time recovery part of `npm run bench`: a cluster of its own
// archiving through pgBackRest (aes-256-cbc, archive_timeout 60 s, pgBackRest's
// defaults otherwise: gz compression, one process), a generated Lookout
// database of the target size, then:
//   base backup: a full pgBackRest backup through the pitr queue (pitr-backup job);
//   RPO: a heartbeat (an audit row a second) for a while, the archiver's
//     exposure (now minus pg_stat_archiver's last archived time) sampled each
//     second; then the cluster is killed (pg_ctl stop -m immediate: no final
//     archiving, as a crash) and the data lost measured: the kill's time minus
//     the newest heartbeat in the restored copy;
//   restore: the archive's latest point restored into a new directory,
//     started on another port and recovered (pgbackrest restore + replay +
//     promotion), what a drill's RTO measures.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { readRepositoryInfo } from '../backups/pitr/info.js';
import { freePort } from '../backups/pitr/free-port.js';
import { toolUser } from '../backups/pitr/pgbackrest.js';
import { restoreCluster } from '../backups/pitr/restore-cluster.js';
import { loadConfig } from '../config/config.js';
import { createPool } from '../db/pool.js';
import { appendAudit, latestAuditAt } from '../db/repositories/audit-log.js';
import { readWalArchiving } from '../db/repositories/wal-archiving.js';
import { generateDatabase } from '../db/generate-database.js';
import { PITR_QUEUE, type PitrBackupResult } from '../jobs/pitr-backup/definition.js';
import { waitForJob } from '../producers/backup-requests.js';
import { requestPitrBackup } from '../producers/pitr-requests.js';
import { prepareDatabase } from '../runtime/prepare-database.js';
import { deleteQueueKeys } from '../runtime/scratch-resources.js';
import { openServices } from '../runtime/services.js';
import { startWorkerProcess } from '../workers/worker-process.js';
import { runAsPostgres, startScratchPitrCluster } from './scratch-pitr-cluster.js';
import { percentile } from './stats.js';

const MIB = 1024 * 1024;
const HEARTBEAT = 'bench.heartbeat';

export interface PitrBenchResult {
  /** `pgbackrest version` and the cluster's PostgreSQL version. */
  pgbackrestVersion: string;
  postgresVersion: string;
  databaseMb: number;
  archiveTimeoutSeconds: number;
  generateSeconds: number;
  backupSeconds: number;
  backupStoredMb: number;
  /** The archiver's exposure sampled once a second under a steady write load: now minus the last archived WAL's time. */
  exposure: { samples: number; p50: number; max: number; seconds: number };
  /** A crash's loss: the kill's time minus the newest heartbeat the restored copy holds. */
  crashLossSeconds: number;
  restoreSeconds: number;
  recoverSeconds: number;
}

export async function runPitrBench(options: {
  targetMb: number;
  heartbeatSeconds: number;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}): Promise<PitrBenchResult> {
  const archiveTimeoutSeconds = 60;
  const cluster = await startScratchPitrCluster({ archiveTimeoutSeconds });
  const tag = randomBytes(3).toString('hex');
  const prefix = `bench_pitr_${tag}`;
  const config = loadConfig({
    ...options.env,
    DATABASE_URL: `postgres://postgres@127.0.0.1:${cluster.port}/lookout_bench_pitr`,
    LOOKOUT_QUEUE_PREFIX: prefix,
    PGBACKREST_CONFIG: cluster.configFile,
    PGBACKREST_STANZA: cluster.stanza,
    BACKUP_SCHEDULES: 'false',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  });
  const services = openServices(config, pino({ level: 'warn' }));
  let worker: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
  let restoredParent: string | undefined;
  try {
    await prepareDatabase(services);
    let t0 = performance.now();
    const databaseBytes = await generateDatabase(services.pool, options.targetMb * MIB, (b) =>
      options.log(`pitr bench: generated ${(b / MIB).toFixed(0)} MiB`),
    );
    const generateSeconds = (performance.now() - t0) / 1000;
    worker = await startWorkerProcess(services, { queues: [PITR_QUEUE], concurrency: 1 });

    options.log('pitr bench: full backup through the pitr queue');
    t0 = performance.now();
    const { job } = await requestPitrBackup(services.queues, 'full', 'system');
    const backup = await waitForJob<PitrBackupResult>(services.queues.get(PITR_QUEUE)!, job, services.workerRedis, { timeoutMs: 6 * 3600_000 });
    const backupSeconds = (performance.now() - t0) / 1000;

    options.log(`pitr bench: a heartbeat a second for ${options.heartbeatSeconds} s, archiver sampled`);
    const exposures: number[] = [];
    const end = Date.now() + options.heartbeatSeconds * 1000;
    while (Date.now() < end) {
      await appendAudit(services.pool, { actor: 'system', action: HEARTBEAT });
      const a = await readWalArchiving(services.pool);
      if (a.lastArchivedAt) exposures.push((a.now.getTime() - a.lastArchivedAt.getTime()) / 1000);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await appendAudit(services.pool, { actor: 'system', action: HEARTBEAT });
    const crashAt = new Date();
    await worker.close(5000);
    worker = undefined;
    await cluster.crash();
    options.log('pitr bench: cluster killed; restoring the latest point');

    const settings = { configFile: cluster.configFile, stanza: cluster.stanza };
    const user = await toolUser(settings);
    const info = await readRepositoryInfo(settings, user);
    restoredParent = await mkdtemp(path.join(os.tmpdir(), 'lookout-pitr-bench-restore-'));
    await chmod(restoredParent, 0o755);
    const dataDir = path.join(restoredParent, 'data');
    cluster.track(dataDir);
    const port = await freePort();
    const restored = await restoreCluster(settings, user, {
      target: { latest: true },
      dataDir,
      pgMajor: info.pgVersion ?? '15',
      start: { port, socketDir: '' },
    });
    const copy = createPool(`postgres://postgres@127.0.0.1:${port}/lookout_bench_pitr`, 1);
    const lastBeat = await latestAuditAt(copy, HEARTBEAT).finally(() => copy.end());
    await restored.stop();
    const { stdout: version } = await runAsPostgres('pgbackrest', ['version']);
    return {
      pgbackrestVersion: version.trim(),
      postgresVersion: info.pgVersion ?? 'unknown',
      databaseMb: databaseBytes / MIB,
      archiveTimeoutSeconds,
      generateSeconds,
      backupSeconds,
      backupStoredMb: backup.bytes / MIB,
      exposure: {
        samples: exposures.length,
        p50: percentile(exposures, 50),
        max: Math.max(...exposures),
        seconds: options.heartbeatSeconds,
      },
      // No heartbeat in the copy: none reached the archive, so the copy ends at its last transaction before them.
      crashLossSeconds: (crashAt.getTime() - (lastBeat ?? restored.recoveredTo ?? new Date(NaN)).getTime()) / 1000,
      restoreSeconds: restored.restoreSeconds,
      recoverSeconds: restored.startSeconds,
    };
  } finally {
    await worker?.close(5000).catch(() => undefined);
    await services.close().catch(() => undefined);
    await deleteQueueKeys(config.redisUrl, prefix).catch(() => undefined);
    await cluster.destroy();
    if (restoredParent) await rm(restoredParent, { recursive: true, force: true });
  }
}
