// A worker process over opened services: the default model loaded first (a
// detect worker), BullMQ workers for the claimed queues, the heartbeat, and
// close() draining them. The CLI (`lookout all`, `lookout worker`) and the
// tests call it in-process.

import { upsertModel } from '../db/repositories/models.js';
import type { Device } from '../detection/index.js';
import { formatDevice } from '../detection/index.js';
import { detectImage } from '../jobs/detect-image/definition.js';
import { KNOWN_QUEUES } from '../jobs/registry.js';
import { PITR_QUEUE } from '../jobs/pitr-backup/definition.js';
import type { Services } from '../runtime/services.js';
import type { Config } from '../config/config.js';
import { createDetectorCache, type DetectorCache } from './detector-cache.js';
import { startWorkers, type RunningWorkers } from './start-workers.js';
import { newWorkerIdentity, startHeartbeat } from './worker-heartbeat.js';

export interface WorkerProcessOptions {
  queues: readonly string[];
  concurrency: number;
  device?: Device;
}

export interface RunningWorkerProcess {
  workers: RunningWorkers;
  workerId: string;
  detectors: DetectorCache;
  close(graceMs?: number): Promise<void>;
}

export async function startWorkerProcess(services: Services, options: WorkerProcessOptions): Promise<RunningWorkerProcess> {
  const { config, logger } = services;
  if (options.queues.includes(PITR_QUEUE) && !config.pitr.configFile) {
    // Every pitr job would fail: say so at start, as for a missing model.
    throw new Error(
      'the pitr queue needs PGBACKREST_CONFIG: run its worker on the database host, as the database OS user, with pgBackRest configured (README, "Point-in-time recovery")',
    );
  }
  const detectConfig = { ...config.detect, device: options.device ?? config.detect.device };
  const detectors = createDetectorCache({
    registry: services.registry,
    config: { detect: detectConfig, limits: config.limits },
    logger,
    onBatch: (size) => services.metrics.detectBatchSize.observe(size),
    onLoaded: async (d) => {
      await upsertModel(services.pool, { ...d.model, license: d.spec.license });
      logger.info({ model: d.model.name, sha256: d.model.sha256, device: formatDevice(d.device), maxBatch: d.maxBatch }, 'model loaded');
    },
  });
  // A detect worker loads its default model before taking jobs: a missing
  // GPU or a damaged model file stops the process here, loudly.
  if (options.queues.includes(detectImage.queue)) await detectors.get(config.detect.model);
  const identity = newWorkerIdentity(
    [...options.queues],
    options.queues.includes(detectImage.queue) ? formatDevice(detectConfig.device) : null,
    options.concurrency,
  );
  const workers = await startWorkers({
    metrics: services.metrics,
    queues: options.queues,
    concurrency: options.concurrency,
    connection: services.workerRedis,
    prefix: config.queuePrefix,
    lockMs: config.worker.lockMs,
    deps: {
      pool: services.pool,
      blobs: services.blobs,
      s3: () => services.s3(),
      maxImageBytes: config.limits.maxBytes,
      detectorFor: (m) => detectors.get(m),
      logger,
      workerId: identity.id,
      maxDetectionsPerImage: config.detect.maxDetectionsPerImage,
      metrics: services.metrics,
      redis: services.redis,
      queues: services.queues,
      flows: services.flows,
      config,
      databaseUrl: config.databaseUrl,
      databaseOwnerUrl: config.databaseOwnerUrl,
      backup: config.backup,
      now: () => new Date(),
    },
    logger,
  });
  const heartbeat = await startHeartbeat(services.pool, identity, () => workers.stats(), { intervalMs: config.heartbeatMs, logger });
  logger.info({ worker: identity.id, queues: options.queues, device: identity.device }, 'worker registered');
  return {
    workers,
    workerId: identity.id,
    detectors,
    async close(graceMs = config.worker.shutdownGraceMs) {
      await workers.close(graceMs);
      await heartbeat.stop();
      await detectors.closeAll();
    },
  };
}

/**
 * The queues an ops worker runs everywhere: everything but detection and
 * pitr (whose worker belongs on the database host, as its OS user).
 */
export const OPS_QUEUES = KNOWN_QUEUES.filter((q) => q !== detectImage.queue && q !== PITR_QUEUE);

/** The queues of `lookout all`'s ops worker: OPS_QUEUES, and pitr when PGBACKREST_CONFIG is set (Lookout runs on the database host). */
export function opsQueuesFor(config: Pick<Config, 'pitr'>): string[] {
  return config.pitr.configFile ? [...OPS_QUEUES, PITR_QUEUE] : [...OPS_QUEUES];
}

/** `lookout worker`'s queues when none are named: every queue, pitr only when PGBACKREST_CONFIG is set. */
export function defaultWorkerQueues(config: Pick<Config, 'pitr'>): string[] {
  return KNOWN_QUEUES.filter((q) => q !== PITR_QUEUE || config.pitr.configFile !== undefined);
}
