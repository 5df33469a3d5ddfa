// How large the database is on disk (the health probe's postgres.size).
import type { Queryable } from './pool.js';

/** The database's size in bytes (the health probe's postgres.size). */
export async function databaseSizeBytes(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
  return Number(rows[0]?.size);
}
