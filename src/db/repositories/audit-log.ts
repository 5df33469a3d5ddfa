// The append-only audit trail (the database refuses UPDATE and DELETE).
import type { AuditOutcome } from '../../wire/status-lists.js';
import type { Queryable } from '../pool.js';

export interface AuditEntry {
  /** Who: `key:<id>`, `cli`, `system`, `scheduler`. */
  actor: string;
  action: string;
  target?: string;
  outcome?: AuditOutcome;
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
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
  /** Only entries older than this one (its `id`, a bigint as a decimal string): the next page. */
  before?: string;
  limit: number;
}

/**
 * Audit entries, newest first: ordered by the numeric id (the insertion
 * order), never by its text, so id 10 comes before id 9. Pages are exact with
 * `before` = the last id of the previous page.
 */
export async function queryAudit(db: Queryable, f: AuditFilter): Promise<Array<Record<string, unknown>>> {
  // `id` is selected as text (a bigint does not fit a JS number); the ORDER BY
  // names the column through its table, or Postgres would sort by the text alias.
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT a.id::text AS id, a.at, a.actor, a.action, a.target, a.outcome, a.details FROM audit_log a
      WHERE ($1::text IS NULL OR a.actor = $1) AND ($2::text IS NULL OR a.action = $2) AND ($3::text IS NULL OR a.target = $3)
        AND ($4::text IS NULL OR a.outcome = $4) AND ($5::timestamptz IS NULL OR a.at >= $5) AND ($6::timestamptz IS NULL OR a.at < $6)
        AND ($8::bigint IS NULL OR a.id < $8::bigint)
      ORDER BY a.id DESC LIMIT $7`,
    [f.actor ?? null, f.action ?? null, f.target ?? null, f.outcome ?? null, f.since ?? null, f.until ?? null, f.limit, f.before ?? null],
  );
  return rows;
}

/** The reconciler's repairs in the last hour: how many runs changed something, and how many images they re-enqueued. */
export async function recentReconcileRepairs(db: Queryable): Promise<{ runs: number; images: number }> {
  const { rows } = await db.query<{ n: number; images: number }>(
    `SELECT count(*)::int AS n, coalesce(sum((details->>'requeuedImages')::int), 0)::int AS images
       FROM audit_log WHERE action = 'reconcile.run' AND at > now() - interval '1 hour'`,
  );
  return { runs: rows[0]?.n ?? 0, images: rows[0]?.images ?? 0 };
}

/** When the newest audit row of `action` was written; undefined when there is none (the pitr benchmark's heartbeat). */
export async function latestAuditAt(db: Queryable, action: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>('SELECT max(at) AS at FROM audit_log WHERE action = $1', [action]);
  return rows[0]?.at ?? undefined;
}
