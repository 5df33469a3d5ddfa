// The request log: one pino line per HTTP request (pino-http), written when
// its answer has been sent or its connection closed: request id, method,
// route, path, status, response time in ms, the key's public id (never the
// key: no header, no query string and no body is logged), bytes in and out.
// Probes and scrapes (/healthz, /readyz, /metrics) log at debug, answers of
// 500 and up at error, everything else at info. In a traced process the line
// carries the request's trace_id and span_id (the logger's mixin).
import type { Socket } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/** Probes and scrapes: logged at debug, so that they do not bury the rest. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * What a request log line says besides pino's level, time, pid, hostname and
 * msg, and `requestId` (X-Request-Id: the caller's when sane, else a UUID),
 * which pino-http binds.
 */
export interface RequestLogFields {
  method: string;
  /** The route matched, as declared (/v1/batches/:id); null when none matched (a 404, a refusal before routing). */
  route: string | null;
  /** The path asked for, without the query string. */
  path: string;
  statusCode: number;
  /** From the request's arrival at the first middleware to the answer's last byte handed to the socket (ms). */
  responseTime: number;
  /** The API key's public id once authenticated; null otherwise. */
  keyId: string | null;
  /** Bytes read from the connection for this request by the time it was answered: request line, headers and the body as far as read. */
  bytesIn: number;
  /** Bytes written to the connection for this answer: status line, headers and body. */
  bytesOut: number;
  /** The connection closed before the answer was sent whole. */
  aborted?: true;
}

const MOUNTED_AT = 'requestLogMountedAt';

/**
 * Remembers where the router that will match the request is mounted (/v1,
 * /admin/queues): the route reported is that plus the route's own path. Read
 * at the answer, req.baseUrl no longer says it when an error handler outside
 * the router answered.
 */
export const rememberMount: RequestHandler = (req, res, next) => {
  res.locals[MOUNTED_AT] = req.baseUrl;
  next();
};

/**
 * Byte counters of a connection when its previous request was answered: a
 * request's bytes are the difference (keep-alive connections carry several).
 */
const counted = new WeakMap<Socket, { read: number; written: number }>();

function bytesOf(req: Request): { bytesIn: number; bytesOut: number } {
  const socket = req.socket;
  const before = counted.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  counted.set(socket, now);
  return { bytesIn: now.read - before.read, bytesOut: now.written - before.written };
}

/** The path asked for, without the query string (req.path is relative to the router reached last). */
const pathOf = (req: Request): string => (req.originalUrl || req.url).split('?', 1)[0] ?? '';

/** The message of a request's line: POST /v1/batches 202. */
const requestLine = (req: Request, res: Response): string => `${req.method} ${routeOf(req, res) ?? pathOf(req)} ${res.statusCode}`;

function routeOf(req: Request, res: Response): string | null {
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath !== 'string') return null;
  const mounted: unknown = res.locals[MOUNTED_AT];
  const mountedAt = typeof mounted === 'string' ? mounted : req.baseUrl;
  return `${mountedAt}${routePath}`;
}

/** The fields of a request's line (the module header says which). */
export function requestLogFields(req: Request, res: Response, responseTime: number): RequestLogFields {
  return {
    method: req.method,
    route: routeOf(req, res),
    path: pathOf(req),
    statusCode: res.statusCode,
    responseTime,
    keyId: req.principal?.keyId ?? null,
    ...bytesOf(req),
    ...(res.writableFinished ? {} : { aborted: true as const }),
  };
}

/**
 * The request log middleware over `logger`; mount it first (after the
 * request id), so that its response time covers every other middleware.
 */
export function requestLog(logger: Logger): RequestHandler {
  const log = pinoHttp<Request, Response>({
    logger,
    genReqId: (req) => req.requestId ?? '',
    // The line carries only the request id and the fields below: no `req` or `res` object (their headers hold keys).
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    // Its child logger with the request object is made for every request, never written: no work for it.
    wrapSerializers: false,
    serializers: { req: () => undefined, res: () => undefined },
    customLogLevel: (req, res, err) => {
      if (PROBE_PATHS.has(pathOf(req))) return 'debug';
      return err || res.statusCode >= 500 ? 'error' : 'info';
    },
    customSuccessObject: (req, res, val: { responseTime: number }) => requestLogFields(req, res, val.responseTime),
    customErrorObject: (req, res, err, val: { responseTime: number }) => ({ ...requestLogFields(req, res, val.responseTime), err: err.message }),
    customSuccessMessage: (req, res) => requestLine(req, res),
    customErrorMessage: (req, res) => requestLine(req, res),
  });
  // pino-http's own child loggers (req.log) are not used: Lookout logs through its services' logger.
  return (req: Request, res: Response, next: NextFunction) => log(req, res, next);
}
