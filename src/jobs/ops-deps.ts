// What the health, alert and notification handlers need.
import type { FlowProducer, Queue } from 'bullmq';
import type { Metrics } from '../metrics/metrics.js';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';

export interface OpsJobDeps {
  pool: Pool;
  redis: Redis;
  queues: ReadonlyMap<string, Queue>;
  config: Config;
  logger: Logger;
  now: () => Date;
  flows: FlowProducer;
  metrics?: Metrics;
}
