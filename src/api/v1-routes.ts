// Every /v1 route, in match order: the table the router mounts and
// /openapi.json describes.
import type { RequestHandler } from 'express';
import type { Services } from '../runtime/services.js';
import type { ApiRoute } from './route-spec.js';
import { adminRoutes } from './routes/admin.js';
import { backupsRoutes } from './routes/backups.js';
import { batchesRoutes } from './routes/batches.js';
import { fleetRoutes } from './routes/fleet.js';
import { imagesRoutes } from './routes/images.js';
import { infoRoutes } from './routes/info.js';
import { queuesRoutes } from './routes/queues.js';
import { statsRoutes } from './routes/stats.js';

export function v1Routes(services: Services, guards: { uploadLimit: RequestHandler }): ApiRoute[] {
  return [
    ...infoRoutes(services),
    ...batchesRoutes(services, guards.uploadLimit),
    ...imagesRoutes(services),
    ...backupsRoutes(services),
    ...queuesRoutes(services),
    ...fleetRoutes(services),
    ...statsRoutes(services),
    ...adminRoutes(services),
  ];
}
