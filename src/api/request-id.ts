// A request id on every request (the caller's X-Request-Id when sane), echoed
// back and recorded in audit rows, the request log and the request's span.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { annotateSpan } from '../tracing/spans.js';

declare module 'express-serve-static-core' {
  interface Request {
    requestId?: string;
  }
}

export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  req.requestId = given && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
  res.set('X-Request-Id', req.requestId);
  annotateSpan({ 'lookout.request.id': req.requestId });
  next();
};
