// The web console: a static single-page app built by Vite into dist/web
// (npm run build), served at /. It talks to /v1 with the key the user signs
// in with; nothing here knows about keys.
import express, { Router } from 'express';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError, sendError } from './http-errors.js';

/** dist/web from both src/api (tests) and dist/api (the build). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

export function consoleRouter(dir = CONSOLE_DIR): Router {
  const router = Router();
  if (!existsSync(path.join(dir, 'index.html'))) {
    router.get('/', (_req, res) => sendError(res, new ApiError(503, 'console_not_built', `the web console is not built (${dir}): run npm run build`)));
    return router;
  }
  // Hashed asset names: cached for long; index.html always revalidated.
  router.use('/assets', express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false }));
  router.use(express.static(dir, { index: 'index.html', maxAge: 0 }));
  return router;
}
