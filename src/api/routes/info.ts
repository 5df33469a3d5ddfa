// /v1/me: who the key is (the console hides what its role cannot do).
// /v1/info: the server's models and upload limits (clients split uploads by them).
import { Router } from 'express';
import { createRequire } from 'node:module';
import type { Services } from '../../runtime/services.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export function infoRouter(services: Services): Router {
  const router = Router();
  const { config, registry } = services;

  router.get('/me', (req, res) => {
    const p = req.principal!;
    res.json({ keyId: p.keyId, name: p.name, role: p.role });
  });

  router.get('/info', (_req, res) => {
    res.json({
      version,
      defaultModel: config.detect.model,
      models: registry.all().map((m) => ({ name: m.name, license: m.license, present: registry.isPresent(m.name), defaultMinScore: m.defaultMinScore })),
      limits: {
        maxFiles: config.upload.maxFiles,
        maxRequestBytes: config.upload.maxRequestBytes,
        maxFileBytes: config.limits.maxBytes,
        maxPixels: config.limits.maxPixels,
      },
    });
  });
  return router;
}
