// The shared parts every Lookout process opens once at start and passes
// down: Postgres pool, Redis connections, queues, flow producer, blob store
// (BLOB_STORE: a directory or a bucket), model registry. close() shuts them
// in reverse order.
//
// Two Redis connections: `redis` fails fast while Redis is away (queues, flow
// producer, rate limits, probes: an HTTP request or a CLI command must not
// wait for it; src/redis/queue-redis.ts), `workerRedis` waits outages out (BullMQ
// workers and queue events: a job in flight resumes when Redis is back).

import { FlowProducer, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { openBlobStore } from '../blobs/open-blob-store.js';
import { createS3Client } from '../blobs/s3-client.js';
import type { Config } from '../config/config.js';
import { createPool, type Pool } from '../db/pool.js';
import { ModelRegistry } from '../detection/index.js';
import { KNOWN_QUEUES } from '../jobs/registry.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { createQueueRedis, QUEUE_FAIL_FAST } from '../redis/queue-redis.js';
import { queueTelemetry } from '../tracing/tracer.js';

export interface Services {
  config: Config;
  logger: Logger;
  pool: Pool;
  /** Fails fast while Redis is away (QueueUnavailableError); the queues and the flow producer use it. */
  redis: Redis;
  /** Waits while Redis is away: for BullMQ workers and queue events only. Opened on first use. */
  workerRedis: Redis;
  blobs: BlobStore;
  /** The S3 client (the blob store's with BLOB_STORE=s3, else one made on first use from S3_*): reads images submitted by reference. */
  s3(): S3Client;
  registry: ModelRegistry;
  queues: Map<string, Queue>;
  flows: FlowProducer;
  metrics: Metrics;
  close(): Promise<void>;
}

/** A connection that waits outages out, for BullMQ workers. */
export function createRedis(url: string): Redis {
  // BullMQ needs maxRetriesPerRequest: null so blocking commands survive reconnects.
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export function openServices(config: Config, logger: Logger, registry = new ModelRegistry({ modelsDir: config.modelsDir })): Services {
  const pool = createPool(config.databaseUrl);
  const redis = createQueueRedis(config.redisUrl);
  // One line per outage, not one per reconnect attempt or per refused command.
  let away = false;
  const onError = (err: Error) => {
    if (away) return logger.debug({ err: err.message }, 'redis connection error');
    away = true;
    logger.warn({ err: err.message }, 'redis connection error; retrying');
  };
  redis.on('error', onError);
  // Made when first asked for: an API or a CLI command has no worker.
  let workerRedis: Redis | undefined;
  const openWorkerRedis = () => {
    workerRedis = createRedis(config.redisUrl);
    workerRedis.on('error', onError);
    return workerRedis;
  };
  redis.on('ready', () => {
    if (away) logger.info('redis connection ready again');
    away = false;
  });
  const prefix = config.queuePrefix;
  // In a traced process the queues and the flow producer put their caller's trace context on every job they add.
  const queues = new Map(KNOWN_QUEUES.map((name) => [name, new Queue(name, { connection: redis, prefix, ...QUEUE_FAIL_FAST, ...queueTelemetry() })]));
  const flows = new FlowProducer({ connection: redis, prefix, ...QUEUE_FAIL_FAST, ...queueTelemetry() });
  // BullMQ re-emits every connection error on each queue, and prints it with
  // its stack when nobody listens; the connection's listener above logs it once.
  const quiet = (err: Error) => logger.debug({ err: err.message }, 'queue connection error');
  for (const queue of queues.values()) queue.on('error', quiet);
  flows.on('error', quiet);
  const metrics = createMetrics({ queues: queues.values(), pool });
  const blobs = openBlobStore(config, logger);
  let s3 = blobs.s3;
  let ownS3: S3Client | undefined;
  return {
    config,
    logger,
    pool,
    redis,
    get workerRedis() {
      return workerRedis ?? openWorkerRedis();
    },
    blobs: blobs.blobs,
    s3() {
      if (!s3) s3 = ownS3 = createS3Client(config.s3);
      return s3;
    },
    registry,
    queues,
    flows,
    metrics,
    async close() {
      await flows.close();
      await Promise.all([...queues.values()].map((q) => q.close()));
      redis.disconnect();
      workerRedis?.disconnect();
      await pool.end();
      blobs.close();
      ownS3?.destroy();
    },
  };
}
