// A whole-body deadline for every request body that is not an upload. Node's
// own requestTimeout is off (an upload on a slow link may take as long as its
// bytes keep coming: receive-upload.ts ends it when it goes idle), so without
// this a client dripping one byte of a 64 KiB JSON body every few seconds
// would hold its socket, and a slot in express.json, for as long as it liked.
import type { RequestHandler } from 'express';
import { ApiError, sendError } from './http-errors.js';

/** True when the request says it has a body (Content-Length above 0, or chunked). */
function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Express middleware: a body not received whole within `timeoutMs` (ms, from
 * when its headers were read) is answered 408 `body_timeout` with
 * `Connection: close`, and the socket is closed once that answer is sent.
 * `multipart/form-data` bodies (uploads) are left to receive-upload.ts's idle
 * timeout. Requests without a body pass untouched.
 */
export function bodyDeadline(timeoutMs: number): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req) || req.complete || req.is('multipart/form-data')) return next();
    const timer = setTimeout(() => {
      if (req.complete) return;
      res.set('Connection', 'close');
      res.once('finish', () => req.socket.destroy());
      if (!res.headersSent) {
        sendError(res, new ApiError(408, 'body_timeout', `the request body did not arrive whole within ${timeoutMs} ms`));
      } else {
        req.socket.destroy();
      }
    }, timeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
    res.once('finish', clear);
    next();
  };
}
