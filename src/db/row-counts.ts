// Row counts of every table in the public schema: the manifest's record of
// what a backup holds, and what verify and restore compare against.
import pg from 'pg';
import type { Queryable } from './pool.js';

export async function countRows(db: Queryable): Promise<Record<string, number>> {
  const { rows: tables } = await db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`);
  if (tables.length === 0) return {};
  const sql = tables
    .map((t) => `SELECT ${pg.escapeLiteral(t.name)} AS name, count(*)::float8 AS n FROM public.${pg.escapeIdentifier(t.name)}`)
    .join(' UNION ALL ');
  const { rows } = await db.query<{ name: string; n: number }>(sql);
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}
