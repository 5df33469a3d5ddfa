// Opens the shared services for one CLI command (logging to stderr, so
// stdout carries only the command's output) and closes them after. The
// database is checked first (never created or migrated here). A command that
// needs Redis while it is away ends within seconds (the queue connection
// fails fast). Either way the command stops with a CliError: one line naming
// what it could not reach (password masked) and why, exit 1, no stack trace.
// withQueues is the same for the queue commands, which may name a queue.
import type { Config } from '../config/config.js';
import { maskUrl } from '../config/mask-secrets.js';
import { checkDatabase } from '../db/database-check.js';
import { isQueueUnavailable, lastRedisError, QueueUnavailableError } from '../redis/queue-redis.js';
import { openServices, type Services } from '../runtime/services.js';
import { UnknownQueueError } from '../board/queue-control.js';
import { CliError } from './cli-error.js';
import { commandLogger } from './command-logger.js';
import { databaseCliError } from './with-database.js';

/**
 * Runs `work` over freshly opened services and closes them, whatever happens.
 * @throws CliError when the database is unreachable, missing or not migrated, or Redis does not answer
 *   (before or during `work`); every other error is the caller's
 */
export async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  await checkDatabase(config.databaseUrl).catch((err: unknown) => {
    throw databaseCliError(err, config.databaseUrl);
  });
  const services = openServices(config, commandLogger(config, { quiet: true }));
  try {
    return await work(services);
  } catch (err) {
    if (isQueueUnavailable(err)) {
      const why = err instanceof QueueUnavailableError ? err.reason : (lastRedisError(services.redis) ?? (err as Error).message);
      throw new CliError(`cannot reach Redis at ${maskUrl(config.redisUrl)}: ${why}`);
    }
    throw databaseCliError(err, config.databaseUrl);
  } finally {
    await services.close();
  }
}

/** withServices where an unknown queue name (UnknownQueueError) prints one line and exits 2. */
export function withQueues(config: Config, work: (services: Services) => Promise<void>): Promise<void> {
  return withServices(config, work).catch((err: unknown) => {
    if (!(err instanceof UnknownQueueError)) throw err;
    process.stderr.write(`lookout queues: ${err.message}\n`);
    process.exitCode = 2;
  });
}
