// The express app: one route table. Thin routes over the library; auth and
// error mapping in one place each.
import express, { type Express } from 'express';
import type { Services } from '../runtime/services.js';
import { BOARD_PATH, bullBoardRouter } from '../board/bull-board.js';
import { requireKey, requireRole } from './authenticate.js';
import { errorHandler, notFound, sendError } from './http-errors.js';
import { batchesRouter } from './routes/batches.js';
import { healthRouter } from './routes/health.js';
import { imagesRouter } from './routes/images.js';
import { backupsRouter } from './routes/backups.js';
import { fleetRouter } from './routes/fleet.js';
import { metricsHandler } from '../metrics/metrics-server.js';

export function createApp(services: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use(healthRouter(services));
  app.get('/metrics', metricsHandler(services.metrics));

  const v1 = express.Router();
  v1.use(requireKey(services.pool));
  v1.use(express.json({ limit: '64kb' }));
  v1.use('/batches', batchesRouter(services));
  v1.use('/images', imagesRouter(services));
  v1.use('/backups', backupsRouter(services));
  v1.use(fleetRouter(services));
  app.use('/v1', v1);

  app.use(BOARD_PATH, requireKey(services.pool, { allowBasic: true, challenge: true }), requireRole('admin'), bullBoardRouter(services.queues.values()));

  app.use((req, res) => sendError(res, notFound(`route ${req.method} ${req.path}`)));
  app.use(errorHandler(services.logger));
  return app;
}
