// Row counts of every table in the public schema: the manifest's record of
// what a backup holds, and what verify and restore compare against.
import pg from 'pg';
import type { Queryable } from '../db/pool.js';

export async function countRows(db: Queryable): Promise<Record<string, number>> {
  const { rows: tables } = await db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
  );
  if (tables.length === 0) return {};
  const sql = tables.map((t) => `SELECT ${pg.escapeLiteral(t.name)} AS name, count(*)::float8 AS n FROM public.${pg.escapeIdentifier(t.name)}`).join(' UNION ALL ');
  const { rows } = await db.query<{ name: string; n: number }>(sql);
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

/** Differences between two sets of counts, as readable strings; empty when equal. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): string[] {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names
    .filter((n) => expected[n] !== actual[n])
    .map((n) => `${n}: expected ${expected[n] ?? 'no table'}, found ${actual[n] ?? 'no table'}`);
}
