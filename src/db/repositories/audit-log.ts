// The append-only audit trail (the database refuses UPDATE and DELETE).
import type { Queryable } from '../pool.js';

export interface AuditEntry {
  /** Who: `key:<id>`, `cli`, `system`, `scheduler`. */
  actor: string;
  action: string;
  target?: string;
  outcome?: 'ok' | 'error' | 'denied';
  details?: Record<string, unknown>;
}

export async function appendAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query('INSERT INTO audit_log (actor, action, target, outcome, details) VALUES ($1, $2, $3, $4, $5)', [
    entry.actor,
    entry.action,
    entry.target ?? null,
    entry.outcome ?? 'ok',
    JSON.stringify(entry.details ?? {}),
  ]);
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  outcome?: 'ok' | 'error' | 'denied';
  since?: Date;
  until?: Date;
  limit: number;
}

export async function queryAudit(db: Queryable, f: AuditFilter): Promise<Array<Record<string, unknown>>> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id::text, at, actor, action, target, outcome, details FROM audit_log
      WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR target = $3)
        AND ($4::text IS NULL OR outcome = $4) AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
      ORDER BY id DESC LIMIT $7`,
    [f.actor ?? null, f.action ?? null, f.target ?? null, f.outcome ?? null, f.since ?? null, f.until ?? null, f.limit],
  );
  return rows;
}
