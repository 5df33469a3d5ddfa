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
