// The server's version, for checking that pg_dump and pg_restore suit it.
import type { Queryable } from './pool.js';

export async function serverVersion(db: Queryable): Promise<{ major: number; text: string }> {
  const { rows } = await db.query<{ num: string; text: string }>(
    `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS text`,
  );
  const num = Number(rows[0]?.num);
  return { major: Math.floor(num / 10_000), text: rows[0]?.text ?? String(num) };
}
