// Opens the shared services for one CLI command (logging to stderr, so
// stdout carries only the command's output) and closes them after.
import type { Config } from '../config/config.js';
import { createLogger } from '../logging/logger.js';
import { openServices, type Services } from '../runtime/services.js';

export async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  const services = openServices(config, createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 2 }));
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}
