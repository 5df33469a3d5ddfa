// Worker processes and their heartbeats: the fleet view.
import type { WorkerState } from '../../wire/status-lists.js';
import type { Queryable } from '../pool.js';

export interface WorkerIdentity {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  device: string | null;
  concurrency: number;
  version: string;
}

export interface WorkerStats {
  jobsDone: number;
  jobsFailed: number;
  currentJobs: Array<{ queue: string; id: string; name: string; since: string }>;
}

export interface WorkerView extends WorkerIdentity, WorkerStats {
  startedAt: Date;
  lastSeen: Date;
  stoppedAt: Date | null;
  state: WorkerState;
}

/** Registers (or re-registers) a worker; `heartbeatMs` is how often it will beat, which judges it live. */
export async function registerWorker(db: Queryable, w: WorkerIdentity, heartbeatMs: number): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, host, pid, queues, device, concurrency, version, heartbeat_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET last_seen = now(), stopped_at = NULL, heartbeat_ms = $8`,
    [w.id, w.host, w.pid, w.queues, w.device, w.concurrency, w.version, Math.round(heartbeatMs)],
  );
}

/** A worker is missing after this many missed heartbeats. */
const MISSED_BEATS = 3;
/** SQL: the row's worker beat within its own window (MISSED_BEATS of its interval), or `$1` ms for rows without one. */
const BEAT_IS_RECENT = `last_seen > now() - (coalesce(heartbeat_ms * ${MISSED_BEATS}, $1::int) || ' milliseconds')::interval`;

/** Records a heartbeat; false when the worker has no row (pruned while it was cut off), so it registers again. */
export async function heartbeatWorker(db: Queryable, id: string, stats: WorkerStats): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE workers SET last_seen = now(), jobs_done = $2, jobs_failed = $3, current_jobs = $4 WHERE id = $1`, [
    id,
    stats.jobsDone,
    stats.jobsFailed,
    JSON.stringify(stats.currentJobs),
  ]);
  return (rowCount ?? 0) > 0;
}

export async function markWorkerStopped(db: Queryable, id: string, stats: WorkerStats): Promise<void> {
  await db.query(`UPDATE workers SET stopped_at = now(), jobs_done = $2, jobs_failed = $3, current_jobs = '[]' WHERE id = $1`, [
    id,
    stats.jobsDone,
    stats.jobsFailed,
  ]);
}

/**
 * The fleet view: every live worker, and the stopped or missing ones whose
 * goodbye (or last heartbeat) is within `historyHours`. Live = no goodbye
 * and a heartbeat within three of the worker's own intervals (`liveWithinMs`
 * for rows that do not say theirs). Missing (and stopped) first, then live; by host and pid.
 */
export async function listWorkers(db: Queryable, liveWithinMs: number, historyHours: number): Promise<WorkerView[]> {
  const { rows } = await db.query<WorkerView>(
    `SELECT id, host, pid, queues, device, concurrency, version, started_at AS "startedAt", last_seen AS "lastSeen",
            stopped_at AS "stoppedAt", jobs_done::float8 AS "jobsDone", jobs_failed::float8 AS "jobsFailed", current_jobs AS "currentJobs",
            CASE WHEN stopped_at IS NULL AND ${BEAT_IS_RECENT} THEN 'live' ELSE 'missing' END AS state
       FROM workers
      WHERE (stopped_at IS NULL AND ${BEAT_IS_RECENT})
         OR coalesce(stopped_at, last_seen) > now() - ($2 || ' hours')::interval
      ORDER BY state DESC, host, pid`,
    [String(liveWithinMs), String(historyHours)],
  );
  return rows;
}

/**
 * Deletes the rows of workers stopped (or last heard from) more than
 * `historyHours` before `now`, so restarts do not pile up; live workers are
 * never touched. Returns how many rows went.
 */
export async function pruneWorkers(db: Queryable, historyHours: number, now: Date): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM workers WHERE coalesce(stopped_at, last_seen) < $1::timestamptz - ($2 || ' hours')::interval`, [
    now,
    String(historyHours),
  ]);
  return rowCount ?? 0;
}

/** Live worker count per queue. */
export async function liveWorkersPerQueue(db: Queryable, liveWithinMs: number): Promise<Record<string, number>> {
  const { rows } = await db.query<{ queue: string; n: number }>(
    `SELECT q AS queue, count(*)::int AS n FROM workers, unnest(queues) AS q
      WHERE stopped_at IS NULL AND ${BEAT_IS_RECENT} GROUP BY q`,
    [String(liveWithinMs)],
  );
  return Object.fromEntries(rows.map((r) => [r.queue, r.n]));
}

/** The live window for rows that do not say their own interval: MISSED_BEATS of the reader's HEARTBEAT_MS. */
export const liveWindowMs = (heartbeatMs: number): number => heartbeatMs * MISSED_BEATS;
