// The shared parts every Lookout process opens once at start and passes
// down: Postgres pool, Redis connection, queues, flow producer, blob store,
// model registry. close() shuts them in reverse order.

import { FlowProducer, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createFsBlobStore } from '../blobs/fs-blob-store.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Config } from '../config/config.js';
import { createPool, type Pool } from '../db/pool.js';
import { ModelRegistry } from '../detection/index.js';
import { KNOWN_QUEUES } from '../jobs/registry.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';

export interface Services {
  config: Config;
  logger: Logger;
  pool: Pool;
  redis: Redis;
  blobs: BlobStore;
  registry: ModelRegistry;
  queues: Map<string, Queue>;
  flows: FlowProducer;
  metrics: Metrics;
  close(): Promise<void>;
}

export function createRedis(url: string): Redis {
  // BullMQ needs maxRetriesPerRequest: null so blocking commands survive reconnects.
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export function openServices(config: Config, logger: Logger, registry = new ModelRegistry({ modelsDir: config.modelsDir })): Services {
  const pool = createPool(config.databaseUrl);
  const redis = createRedis(config.redisUrl);
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const prefix = config.queuePrefix;
  const queues = new Map(KNOWN_QUEUES.map((name) => [name, new Queue(name, { connection: redis, prefix })]));
  const flows = new FlowProducer({ connection: redis, prefix });
  const metrics = createMetrics({ queues: queues.values(), pool });
  return {
    config,
    logger,
    pool,
    redis,
    blobs: createFsBlobStore(config.blobDir),
    registry,
    queues,
    flows,
    metrics,
    async close() {
      await flows.close();
      await Promise.all([...queues.values()].map((q) => q.close()));
      redis.disconnect();
      await pool.end();
    },
  };
}
