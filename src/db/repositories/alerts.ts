// Alerts: one open row (pending or firing) per rule and key; resolved rows are history.
import type { AlertSeverity, AlertStatus } from '../../wire/status-lists.js';
import type { Queryable } from '../pool.js';

export type { AlertSeverity, AlertStatus };

export interface AlertRecord {
  id: string;
  rule: string;
  key: string;
  severity: AlertSeverity;
  status: AlertStatus;
  message: string;
  details: Record<string, unknown>;
  pendingSince: Date;
  firedAt: Date | null;
  resolvedAt: Date | null;
  lastNotifiedAt: Date | null;
  notifications: number;
  silencedUntil: Date | null;
  silencedBy: string | null;
}

const COLUMNS = `id, rule, key, severity, status, message, details, pending_since AS "pendingSince", fired_at AS "firedAt",
  resolved_at AS "resolvedAt", last_notified_at AS "lastNotifiedAt", notifications, silenced_until AS "silencedUntil", silenced_by AS "silencedBy"`;

export async function openAlerts(db: Queryable): Promise<AlertRecord[]> {
  const { rows } = await db.query<AlertRecord>(`SELECT ${COLUMNS} FROM alerts WHERE status <> 'resolved'`);
  return rows;
}

export async function getAlert(db: Queryable, id: string): Promise<AlertRecord | undefined> {
  const { rows } = await db.query<AlertRecord>(`SELECT ${COLUMNS} FROM alerts WHERE id = $1`, [id]);
  return rows[0];
}

export async function listAlerts(db: Queryable, status?: AlertStatus, limit = 200): Promise<AlertRecord[]> {
  const { rows } = await db.query<AlertRecord>(`SELECT ${COLUMNS} FROM alerts WHERE ($1::text IS NULL OR status = $1) ORDER BY pending_since DESC LIMIT $2`, [
    status ?? null,
    limit,
  ]);
  return rows;
}

export async function insertAlert(
  db: Queryable,
  a: {
    id: string;
    rule: string;
    key: string;
    severity: AlertSeverity;
    status: Exclude<AlertStatus, 'resolved'>;
    message: string;
    details: Record<string, unknown>;
    now: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO alerts (id, rule, key, severity, status, message, details, pending_since, fired_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $5 = 'firing' THEN $8::timestamptz END)`,
    [a.id, a.rule, a.key, a.severity, a.status, a.message, JSON.stringify(a.details), a.now],
  );
}

export async function updateAlert(
  db: Queryable,
  id: string,
  change: { status?: AlertStatus; message?: string; details?: Record<string, unknown>; severity?: AlertSeverity; now: Date; notified?: boolean },
): Promise<void> {
  await db.query(
    `UPDATE alerts SET
        status = coalesce($2, status),
        message = coalesce($3, message),
        details = coalesce($4, details),
        severity = coalesce($5, severity),
        fired_at = CASE WHEN $2 = 'firing' AND fired_at IS NULL THEN $6::timestamptz ELSE fired_at END,
        resolved_at = CASE WHEN $2 = 'resolved' THEN $6::timestamptz ELSE resolved_at END,
        last_notified_at = CASE WHEN $7 THEN $6::timestamptz ELSE last_notified_at END,
        notifications = notifications + CASE WHEN $7 THEN 1 ELSE 0 END
      WHERE id = $1`,
    [
      id,
      change.status ?? null,
      change.message ?? null,
      change.details ? JSON.stringify(change.details) : null,
      change.severity ?? null,
      change.now,
      Boolean(change.notified),
    ],
  );
}

export async function silenceAlert(db: Queryable, id: string, until: Date, by: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE alerts SET silenced_until = $2, silenced_by = $3 WHERE id = $1`, [id, until, by]);
  return rowCount === 1;
}
