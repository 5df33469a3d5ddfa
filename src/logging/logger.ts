// pino: JSON lines by default, pretty-printed in development. CLI commands
// that print data on stdout log to stderr so the two never mix. A server
// process may write to a rotated file instead (LOG_FILE, pino-roll), and,
// when it is traced, stamps every line written inside a span with the
// span's trace_id and span_id.

import { mkdirSync, openSync, closeSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

/** A log file and its rotation (LOG_FILE, LOG_ROTATE_*). */
export interface LogFileOptions {
  /** Absolute path; rotated files get a number before the extension (lookout.1.log, lookout.2.log …). */
  path: string;
  /** Rotate when a file reaches this size: a number with k, m or g (no unit: megabytes). */
  size: string | undefined;
  /** Rotate daily, hourly or every so many milliseconds. */
  frequency: 'daily' | 'hourly' | number | undefined;
  /** At most this many files stay, the one being written included (2 or more). */
  keep: number;
}

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** File descriptor: 1 (stdout) for services, 2 (stderr) for CLI commands. */
  destination?: 1 | 2;
  /** JSON lines to this file (rotated) instead of the destination; LOG_FORMAT does not apply to it. */
  file?: LogFileOptions | undefined;
  /** Add trace_id, span_id and trace_flags to every line written inside a span (a traced process). */
  traceIds?: boolean;
}

// Never log these, wherever they appear in a log object.
export const REDACTED_PATHS = ['*.password', '*.secret', '*.token', '*.apiKey', '*.authorization', 'req.headers.authorization', 'req.headers.cookie'];

/**
 * The active span's ids, under the names OpenTelemetry's log data model and
 * its pino instrumentation use; nothing outside a span.
 */
export function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const ids = span.spanContext();
  if (!isSpanContextValid(ids)) return {};
  return { trace_id: ids.traceId, span_id: ids.spanId, trace_flags: `0${ids.traceFlags.toString(16)}` };
}

/** LOG_FILE's folder cannot be made or written: said at start, not by a log that stays silent. */
export class LogFileError extends Error {
  override readonly name = 'LogFileError';
}

/**
 * Makes the log file's folder when missing and writes a probe file there.
 * @throws LogFileError naming the folder and the system's reason
 */
function checkLogFolder(file: string): void {
  const folder = path.dirname(file);
  const probe = path.join(folder, `.lookout-log-probe-${process.pid}`);
  try {
    mkdirSync(folder, { recursive: true });
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (err) {
    throw new LogFileError(`LOG_FILE ${file}: cannot write to ${folder} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * pino-roll in a worker thread (pino's transport). At most `keep` files stay,
 * earlier processes' files of the same name included (removeOtherLogFiles).
 * pino-roll counts the folder's files when it has switched to a new one,
 * which may not exist yet at that moment (its open is asynchronous): it is
 * told to keep `keep - 1`, so the folder holds `keep - 1` or `keep` files,
 * never more.
 */
function fileTransport(file: LogFileOptions) {
  checkLogFolder(file.path);
  const transport = pino.transport({
    target: 'pino-roll',
    options: {
      file: file.path,
      ...(file.size !== undefined ? { size: file.size } : {}),
      ...(file.frequency !== undefined ? { frequency: file.frequency } : {}),
      limit: { count: Math.max(1, file.keep - 1), removeOtherLogFiles: true },
      mkdir: true,
    },
  });
  // A file that fails later (a full disk, the folder removed) is said once on stderr rather than crashing the process.
  let said = false;
  transport.on('error', (err: Error) => {
    if (said) return;
    said = true;
    process.stderr.write(`lookout: LOG_FILE ${file.path}: ${err.message}\n`);
  });
  return transport;
}

/**
 * A pino logger as `options` say.
 * @throws LogFileError when LOG_FILE's folder cannot be made or written
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? 1;
  const base = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(options.traceIds ? { mixin: traceFields } : {}),
  };
  if (options.file) return pino(base, fileTransport(options.file));
  if (options.pretty) {
    // A synchronous stream, not a transport thread: lines written right
    // before process.exit are not lost.
    return pino(base, PinoPretty({ destination, sync: true, colorize: false, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(base, pino.destination({ fd: destination, sync: true }));
}
