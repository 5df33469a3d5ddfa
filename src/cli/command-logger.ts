// The two loggers of the command line. A command that prints a result logs
// on stderr, so stdout carries only its output; a server process (all, api,
// worker, fleet) logs on stdout like any service.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createLogger, LogFileError } from '../logging/logger.js';
import { CliError } from './cli-error.js';

/**
 * stderr, at LOG_LEVEL.
 * @param options.quiet only errors unless LOG_LEVEL is debug or trace: a command says what went wrong in
 *   its own words, and the services' warnings (a Redis reconnecting, say) are noise to it
 */
export function commandLogger(config: Config, options: { quiet?: boolean } = {}): Logger {
  const verbose = config.log.level === 'debug' || config.log.level === 'trace';
  const level = options.quiet && !verbose ? 'error' : config.log.level;
  return createLogger({ level, pretty: config.log.pretty, destination: 2 });
}

/**
 * The log of a long-running process: stdout (pretty in development), or
 * LOG_FILE rotated; with trace ids on every line written inside a span when
 * the process is traced.
 * @throws CliError (exit 1) when LOG_FILE's folder cannot be made or written
 */
export function serviceLogger(config: Config): Logger {
  try {
    return createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 1, file: config.log.file, traceIds: config.tracing.enabled });
  } catch (err) {
    // An unwritable LOG_FILE: one line and exit 1 before anything starts, not a process that logs nowhere.
    if (err instanceof LogFileError) throw new CliError(err.message);
    throw err;
  }
}
