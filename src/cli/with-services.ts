// Opens the shared services for one CLI command (logging to stderr, so
// stdout carries only the command's output) and closes them after. A command
// that needs Redis while it is away ends within seconds (the queue
// connection fails fast): one line naming Redis's URL (password masked) and
// why, exit 1, no stack trace.
import type { Config } from '../config/config.js';
import { maskUrl } from '../config/mask-secrets.js';
import { createLogger } from '../logging/logger.js';
import { isQueueUnavailable, lastRedisError, QueueUnavailableError } from '../runtime/queue-redis.js';
import { openServices, type Services } from '../runtime/services.js';

/**
 * Runs `work` over freshly opened services and closes them, whatever happens.
 * When Redis does not answer it prints `lookout: cannot reach Redis at URL: why`
 * to stderr and exits 1; every other error is the caller's.
 */
export async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  const services = openServices(config, createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 2 }));
  let unreachable: string | undefined;
  try {
    return await work(services);
  } catch (err) {
    if (!isQueueUnavailable(err)) throw err;
    unreachable = err instanceof QueueUnavailableError ? err.reason : (lastRedisError(services.redis) ?? (err as Error).message);
    throw err;
  } finally {
    await services.close();
    if (unreachable !== undefined) {
      process.stderr.write(`lookout: cannot reach Redis at ${maskUrl(config.redisUrl)}: ${unreachable}\n`);
      process.exit(1);
    }
  }
}
