// A Postgres cluster of the test's own archiving through pgBackRest to a
// repository of its own (src/bench/scratch-pitr-cluster.ts, fsync off for
// speed), with what the tests ask of it: queries as postgres, and a WAL
// switch that waits until the closed segment is archived.
import pg from 'pg';
import { startScratchPitrCluster, type ScratchPitrCluster } from '../../src/bench/scratch-pitr-cluster.js';

export interface PitrCluster extends ScratchPitrCluster {
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Switches to a new WAL segment and waits until the one just closed is archived. */
  switchAndWaitArchived(timeoutMs?: number): Promise<void>;
}

export async function startPitrCluster(options: { archiveTimeoutSeconds?: number } = {}): Promise<PitrCluster> {
  const cluster = await startScratchPitrCluster({ archiveTimeoutSeconds: options.archiveTimeoutSeconds ?? 5, fsync: false });
  const query = async <T extends pg.QueryResultRow>(sql: string, params?: unknown[], database = 'postgres'): Promise<T[]> => {
    const client = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    ...cluster,
    query,
    async switchAndWaitArchived(timeoutMs = 30_000) {
      const [{ wal }] = (await query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal')) as [{ wal: string }];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [a] = await query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
        if (a?.last && a.last >= wal) return;
        if (Date.now() > deadline) throw new Error(`WAL ${wal} not archived within ${timeoutMs} ms (last archived: ${a?.last})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
