// The process kinds Lookout runs (api, worker, all) as functions over opened
// services: the CLI calls these, tests call them in-process.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app.js';
import type { StartupGate } from '../api/routes/health.js';
import { setUpDatabase } from '../db/set-up-database.js';
import { upsertModel } from '../db/repositories/models.js';
import type { Device } from '../detection/index.js';
import { formatDevice } from '../detection/index.js';
import { detectImage } from '../jobs/detect-image/definition.js';
import { KNOWN_QUEUES } from '../jobs/registry.js';
import { createDetectorCache, type DetectorCache } from '../workers/detector-cache.js';
import { startWorkers, type RunningWorkers } from '../workers/start-workers.js';
import { newWorkerIdentity, startHeartbeat } from '../fleet/worker-heartbeat.js';
import type { Services } from './services.js';

/** How long a request's line and headers may take to arrive (ms). */
export const HEADERS_TIMEOUT_MS = 15_000;

export interface RunningApi {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on `port` (0: any free port) with the API.
 * @param options.startup passed to /readyz: not ready while it says the process is starting
 */
export async function startApi(services: Services, port = services.config.port, options: { startup?: StartupGate } = {}): Promise<RunningApi> {
  const app = createApp(services, options);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, () => resolve(s));
    s.once('error', reject);
  });
  // Node ends any request not received whole within requestTimeout (300 s by
  // default), however steadily its bytes arrive: a large upload on a slow link
  // would be cut part-way. An upload is ended when it goes idle instead
  // (UPLOAD_IDLE_TIMEOUT_MS, receive-upload.ts), and any socket silent for a
  // little longer than that is closed (slow-drip bodies on other routes).
  server.requestTimeout = 0;
  server.setTimeout(services.config.upload.idleTimeoutMs + 5000);
  // A client gets this long to send its request line and headers, however
  // steadily they trickle in (Node's default is 60 s): slowloris clients hold
  // a socket each for at most this, and never reach the upload slots.
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  const actualPort = (server.address() as AddressInfo).port;
  services.logger.info({ port: actualPort }, 'api listening');
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

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
  const identity = newWorkerIdentity([...options.queues], options.queues.includes(detectImage.queue) ? formatDevice(detectConfig.device) : null, options.concurrency);
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
 * Creates the database if needed, applies pending migrations and grants the
 * application role its rights, as the owner role when DATABASE_OWNER_URL is
 * set (setUpDatabase).
 */
export async function prepareDatabase(services: Services): Promise<void> {
  const { created } = await setUpDatabase(services.config, services.logger);
  if (created) services.logger.info('created the database');
}

/** The queues an ops worker runs (everything but detection). */
export const OPS_QUEUES = KNOWN_QUEUES.filter((q) => q !== detectImage.queue);
