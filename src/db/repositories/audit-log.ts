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
