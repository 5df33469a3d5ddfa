// Opens the shared services for one CLI command (logging to stderr, so
// stdout carries only the command's output) and closes them after. The
// database is checked first (never created or migrated here): a command
// pointed at the wrong database stops with a CliError saying so.
import type { Config } from '../config/config.js';
import { checkDatabase } from '../db/database-check.js';
import { createLogger } from '../logging/logger.js';
import { openServices, type Services } from '../runtime/services.js';
import { databaseCliError } from './with-database.js';

/**
 * Runs `work` with opened services and closes them after.
 * @throws CliError when the database is unreachable, missing or not migrated (before or during `work`)
 */
export async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  await checkDatabase(config.databaseUrl).catch((err: unknown) => {
    throw databaseCliError(err, config.databaseUrl);
  });
  const services = openServices(config, createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 2 }));
  try {
    return await work(services);
  } catch (err) {
    throw databaseCliError(err, config.databaseUrl);
  } finally {
    await services.close();
  }
}
