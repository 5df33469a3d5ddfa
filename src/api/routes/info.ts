// /v1/me: who the key is (the console hides what its role cannot do).
// /v1/info: the server's models and upload limits (clients split uploads by them),
// and whether backups are on (the console hides "Back up now" when they are not).
import { createRequire } from 'node:module';
import { BACKUPS_OFF } from '../../config/config-warnings.js';
import type { Services } from '../../runtime/services.js';
import { route, type ApiRoute } from '../route-spec.js';
import { infoSchema, meSchema } from '../../wire/info.js';

export const { version: LOOKOUT_VERSION } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export function infoRoutes(services: Services): ApiRoute[] {
  const { config, registry } = services;
  return [
    route(
      {
        method: 'get',
        path: '/me',
        operationId: 'getMe',
        summary: 'The calling key: id, name and role',
        tag: 'info',
        role: 'viewer',
        responses: { 200: { description: 'The key', schema: meSchema } },
      },
      ({ req, res }) => {
        const p = req.principal!;
        res.json({ keyId: p.keyId, name: p.name, role: p.role });
      },
    ),
    route(
      {
        method: 'get',
        path: '/info',
        operationId: 'getInfo',
        summary: 'Server version, models, upload limits and whether backups are on',
        tag: 'info',
        role: 'viewer',
        responses: { 200: { description: 'Info', schema: infoSchema } },
      },
      ({ res }) => {
        res.json({
          version: LOOKOUT_VERSION,
          defaultModel: config.detect.model,
          models: registry.all().map((m) => ({ name: m.name, license: m.license, present: registry.isPresent(m.name), defaultMinScore: m.defaultMinScore })),
          limits: {
            maxFiles: config.upload.maxFiles,
            maxRequestBytes: config.upload.maxRequestBytes,
            maxFileBytes: config.limits.maxBytes,
            maxPixels: config.limits.maxPixels,
          },
          backups: config.backup.key ? { enabled: true, reason: null } : { enabled: false, reason: BACKUPS_OFF },
        });
      },
    ),
  ];
}
