// Health probe results, kept for a bounded time.
import type { HealthStatus } from '../../wire/status-lists.js';
import type { Queryable } from '../pool.js';

export type { HealthStatus };

export interface ComponentHealth {
  name: string;
  status: HealthStatus;
  value: number | string | null;
  threshold: number | string | null;
  unit?: string;
  message: string;
}

export interface HealthCheck {
  at: Date;
  status: HealthStatus;
  components: ComponentHealth[];
}

export async function insertHealthCheck(db: Queryable, check: HealthCheck, retentionDays: number): Promise<void> {
  await db.query('INSERT INTO health_checks (at, status, components) VALUES ($1, $2, $3)', [check.at, check.status, JSON.stringify(check.components)]);
  await db.query(`DELETE FROM health_checks WHERE at < now() - ($1 || ' days')::interval`, [String(retentionDays)]);
}

export async function latestHealthCheck(db: Queryable): Promise<HealthCheck | undefined> {
  const { rows } = await db.query<HealthCheck>('SELECT at, status, components FROM health_checks ORDER BY at DESC LIMIT 1');
  return rows[0];
}

/**
 * The detect queue's backlog as the probes saw it (jobs waiting: the
 * queue.detect.backlog component, kept in health_checks.detect_waiting), per
 * step of `stepSeconds` aligned to the epoch, over probes in [from, to): the
 * most waiting at any probe of the step. Steps without a probe are absent.
 * `t` is the step's start in ms since the epoch.
 */
export async function detectWaitingByStep(db: Queryable, from: Date, to: Date, stepSeconds: number): Promise<Array<{ t: number; waiting: number }>> {
  const { rows } = await db.query<{ t: number; waiting: number }>(
    `SELECT (floor(extract(epoch FROM at) / $3) * $3 * 1000)::float8 AS t, max(detect_waiting)::float8 AS waiting
       FROM health_checks WHERE at >= $1 AND at < $2 AND detect_waiting IS NOT NULL
      GROUP BY 1 ORDER BY 1`,
    [from, to, stepSeconds],
  );
  return rows;
}
