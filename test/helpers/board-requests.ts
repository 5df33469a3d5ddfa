// Bull Board's JSON API as a test calls it, and the audit row a request left.
import type { TestEnv } from './test-env.js';

export interface BoardAnswer {
  status: number;
  body: Record<string, any>;
}

/** `method` `/admin/queues<path>` on the API at `url` with `key` as Bearer; the answer's status and parsed JSON body ({} when empty). */
export async function boardRequest(
  url: string,
  key: string,
  method: string,
  path: string,
  options: { body?: unknown; requestId?: string } = {},
): Promise<BoardAnswer> {
  const res = await fetch(`${url}/admin/queues${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(options.requestId ? { 'x-request-id': options.requestId } : {}) },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

export interface AuditRow {
  actor: string;
  target: string | null;
  outcome: string;
  details: Record<string, any>;
}

/** The audit row of the request sent with `X-Request-Id: requestId`, waiting up to 2 s for it (rows are written once the answer is sent); throws when none comes. */
export async function auditRowOf(env: TestEnv, requestId: string): Promise<AuditRow> {
  for (let i = 0; i < 40; i++) {
    const [row] = await env.sql<AuditRow & Record<string, unknown>>(`SELECT actor, target, outcome, details FROM audit_log WHERE details->>'requestId' = $1`, [
      requestId,
    ]);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no audit row for ${requestId}`);
}
