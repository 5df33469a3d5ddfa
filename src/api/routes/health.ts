// /healthz: the process is alive. /readyz: Redis and Postgres answer and
// every migration is applied; 503 with the reason otherwise.
import { Router } from 'express';
import { pingDatabase } from '../../db/database-check.js';
import { pendingMigrations } from '../../db/migrate.js';
import type { Services } from '../../runtime/services.js';
import { withTimeout } from '../../health/with-timeout.js';
import { whenRedisReady } from '../../redis/queue-redis.js';

async function check(fn: () => Promise<string | undefined>): Promise<{ ok: boolean; detail?: string }> {
  try {
    const problem = await fn();
    return problem ? { ok: false, detail: problem } : { ok: true };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

/** What a process still waits for before it is ready (its workers), or undefined once started. */
export interface StartupGate {
  pending(): string | undefined;
}

/**
 * /healthz and /readyz. /readyz answers 503 `not_ready` while Redis, Postgres
 * or the migrations are not right, or while `startup` says the process is
 * still starting (its workers wait for Redis).
 */
export function healthRouter(services: Services, startup?: StartupGate): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [redis, postgres, migrations] = await Promise.all([
      check(async () => {
        await whenRedisReady(services.redis); // away: not ready at once, with the connection's last error
        return (await withTimeout(services.redis.ping(), 2000)) === 'PONG' ? undefined : 'unexpected PING answer';
      }),
      check(async () => {
        await withTimeout(pingDatabase(services.pool), 2000);
        return undefined;
      }),
      check(async () => {
        const pending = await withTimeout(pendingMigrations(services.pool), 2000);
        return pending.length ? `pending migrations: ${pending.join(', ')}` : undefined;
      }),
    ]);
    const starting = startup?.pending();
    const checks = { redis, postgres, migrations, ...(startup ? { startup: starting ? { ok: false, detail: starting } : { ok: true } } : {}) };
    const ready = redis.ok && postgres.ok && migrations.ok && !starting;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
