// The express app: one route table. Thin routes over the library; auth and
// error mapping in one place each.
import express, { type Express } from 'express';
import type { Services } from '../runtime/services.js';
import { BOARD_PATH, bullBoardRouter } from '../board/bull-board.js';
import { checkRetriedJobState, recogniseBoardWrites } from '../board/board-writes.js';
import cors from 'cors';
import { requireKey } from './authenticate.js';
import { requestId } from './request-id.js';
import { rememberMount, requestLog } from './request-log.js';
import { securityHeaders } from './security-headers.js';
import { bodyDeadline } from './body-deadline.js';
import { auditRequests } from './audit-requests.js';
import { rateLimiter } from './rate-limit.js';
import { failedAuthLimit } from './failed-auth-limit.js';
import { auditBoardWrites, boardAccess } from './board-access.js';
import { errorHandler, notFound, sendError } from './http-errors.js';
import { healthRouter, type StartupGate } from './routes/health.js';
import { v1Routes } from './v1-routes.js';
import { mountRoutes } from './route-spec.js';
import { buildOpenApiDocument } from './openapi/build-document.js';
import { docsRouter } from './docs-page.js';
import { consoleRouter } from './console-static.js';
import { LOOKOUT_VERSION } from './routes/info.js';
import { metricsHandler } from '../metrics/metrics-server.js';
import { whenRedisReady } from '../redis/queue-redis.js';

/**
 * The express app over opened services.
 * @param options.startup what /readyz waits for besides Redis, Postgres and the migrations (`lookout all`'s workers)
 */
export function createApp(services: Services, options: { startup?: StartupGate } = {}): Express {
  const { config } = services;
  const app = express();
  app.disable('x-powered-by');
  // Who may set X-Forwarded-For/-Proto: req.ip (rate limits, audit) and req.secure (HSTS).
  app.set('trust proxy', config.http.trustProxy);
  app.use(requestId);
  app.use(requestLog(services.logger));
  app.use(securityHeaders());
  app.use(bodyDeadline(config.http.bodyTimeoutMs));
  if (config.http.corsOrigins.length > 0) {
    app.use(cors({ origin: config.http.corsOrigins, allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'] }));
  }

  app.use(healthRouter(services, options.startup));
  app.get('/metrics', metricsHandler(services.metrics));

  const limits = { redis: services.redis, prefix: config.queuePrefix, logger: services.logger };
  const routes = v1Routes(services, { uploadLimit: rateLimiter({ ...limits, name: 'uploads', perMinute: config.http.uploadsPerMinute }) });
  // One failed-authentication budget per client address for /v1 and the board together.
  const guard = { failures: failedAuthLimit({ ...limits, perMinute: config.http.anonymousPerMinute }), logger: services.logger };
  const v1 = express.Router();
  v1.use(rememberMount);
  v1.use(auditRequests(services.pool, services.logger));
  v1.use(requireKey(services.pool, guard));
  v1.use(rateLimiter({ ...limits, name: 'api', perMinute: config.http.rateLimitPerMinute }));
  // 64 KiB for every JSON body but a batch submitted by reference (up to UPLOAD_MAX_FILES URLs of up to 1,100 characters with file names of up to 255).
  const json = express.json({ limit: '64kb' });
  const batchJson = express.json({ limit: Math.max(65_536, config.upload.maxFiles * 3_000) });
  v1.use((req, res, next) => (req.method === 'POST' && req.path === '/batches' ? batchJson : json)(req, res, next));
  mountRoutes(v1, routes);
  app.use('/v1', v1);
  app.use(docsRouter(buildOpenApiDocument(routes, { version: LOOKOUT_VERSION })));

  app.use(
    BOARD_PATH,
    rememberMount,
    recogniseBoardWrites(),
    auditBoardWrites,
    auditRequests(services.pool, services.logger),
    requireKey(services.pool, guard, { allowBasic: true, challenge: true }),
    rateLimiter({ ...limits, name: 'board', perMinute: config.http.rateLimitPerMinute }),
    checkRetriedJobState(services.queues),
    boardAccess,
    // Every board page reads the queues: 503 queue_unavailable at once while Redis is away.
    (_req, _res, next) => whenRedisReady(services.redis).then(() => next(), next),
    bullBoardRouter(services.queues.values()),
  );

  app.use(consoleRouter());

  app.use((req, res) => sendError(res, notFound(`route ${req.method} ${req.path}`)));
  app.use(errorHandler(services.logger));
  return app;
}
