// Milestones: the first time something happened on this install, kept once.
import type { Queryable } from '../pool.js';

/** The first health probe that saw backups turned on (BACKUP_ENCRYPTION_KEY set). */
export const BACKUPS_ENABLED = 'backups.enabled';

/**
 * When `name` first happened: recorded now (the database's clock) if this is
 * the first time, otherwise the time already recorded. Safe to call from many
 * processes at once.
 */
export async function firstSeen(db: Queryable, name: string): Promise<Date> {
  const { rows } = await db.query<{ at: Date }>(
    `WITH inserted AS (INSERT INTO milestones (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING at)
     SELECT at FROM inserted UNION ALL SELECT at FROM milestones WHERE name = $1 LIMIT 1`,
    [name],
  );
  return rows[0]!.at;
}
