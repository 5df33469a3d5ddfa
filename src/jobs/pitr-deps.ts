// What the pitr job handlers need, passed in by the worker process that runs
// on the database host as the database's OS user.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';

export interface PitrJobDeps {
  pool: Pool;
  config: Pick<Config, 'pitr' | 'databaseUrl'>;
  logger: Logger;
  now: () => Date;
}
