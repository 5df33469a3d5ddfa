// The checks a restore drill runs on its restored copy of the cluster (a
// throwaway server on a private socket): every table's rows of Lookout's
// database, and amcheck's B-tree check of every index of those tables. The
// copy is the drill's own, so creating the amcheck extension there writes
// nothing anyone else reads.
import pg from 'pg';
import { countRows } from './row-counts.js';

export interface RestoredCopyCheck {
  rowCounts: Record<string, number>;
  /** Indexes bt_index_check went through. */
  indexesChecked: number;
  /** One line per index amcheck found corrupt (empty when none). */
  corrupt: string[];
}

/** A connection to the copy: its socket directory and port, a database and a role (trust on the private socket). */
export interface CopyConnection {
  socketDir: string;
  port: number;
  database: string;
  user: string;
}

async function connected<T>(c: CopyConnection, user: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: c.socketDir, port: c.port, database: c.database, user });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Counts the rows of every table of `c.database` and checks every B-tree
 * index of the public schema with amcheck (as the copy's first superuser:
 * CREATE EXTENSION needs one).
 * @throws when the copy does not answer, has no such database, or holds no table (not Lookout's database)
 */
export async function checkRestoredCopy(c: CopyConnection): Promise<RestoredCopyCheck> {
  const { rowCounts, superuser } = await connected(c, c.user, async (client) => {
    const counts = await countRows(client);
    const { rows } = await client.query<{ name: string }>(`SELECT rolname AS name FROM pg_roles WHERE rolsuper AND rolcanlogin ORDER BY oid LIMIT 1`);
    return { rowCounts: counts, superuser: rows[0]?.name };
  });
  if (Object.keys(rowCounts).length === 0) throw new Error(`the restored copy's database ${c.database} has no tables: not Lookout's database`);
  if (!superuser) throw new Error('the restored copy has no superuser that may log in: amcheck cannot be installed there');
  return connected(c, superuser, async (client) => {
    await client.query('CREATE EXTENSION IF NOT EXISTS amcheck');
    const { rows: indexes } = await client.query<{ oid: number; name: string }>(`
      SELECT c.oid::int AS oid, c.relname AS name
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
        JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE am.amname = 'btree' AND n.nspname = 'public' AND c.relpersistence <> 't' AND i.indisready AND i.indisvalid
       ORDER BY c.relname`);
    const corrupt: string[] = [];
    for (const index of indexes) {
      await client.query('SELECT bt_index_check($1::regclass)', [index.oid]).catch((err: Error) => corrupt.push(`${index.name}: ${err.message}`));
    }
    return { rowCounts, indexesChecked: indexes.length, corrupt };
  });
}
