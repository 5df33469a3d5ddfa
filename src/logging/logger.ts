// pino: JSON lines by default, pretty-printed in development. CLI commands
// that print data on stdout log to stderr so the two never mix.

import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** File descriptor: 1 (stdout) for services, 2 (stderr) for CLI commands. */
  destination?: 1 | 2;
}

// Never log these, wherever they appear in a log object.
export const REDACTED_PATHS = ['*.password', '*.secret', '*.token', '*.apiKey', '*.authorization', 'req.headers.authorization', 'req.headers.cookie'];

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? 1;
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (options.pretty) {
    // A synchronous stream, not a transport thread: lines written right
    // before process.exit are not lost.
    return pino(base, PinoPretty({ destination, sync: true, colorize: false, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(base, pino.destination({ fd: destination, sync: true }));
}
