// WAL archiving as Postgres sees it: pg_stat_archiver, the archive settings
// and how far the archiver is behind the WAL being written. SQL alone (any
// role may read these), so it works from a host without pgBackRest: the
// health probe and `lookout pitr status` read it.
import type { Queryable } from '../pool.js';

export interface WalArchiving {
  /** archive_mode: off, on or always. */
  archiveMode: string;
  /** archive_command as set ('' when none; archive_library instead, when that is set). */
  archiveCommand: string;
  archiveLibrary: string;
  /** archive_timeout, seconds (0: off). */
  archiveTimeoutSeconds: number;
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  /** pg_stat_archiver.failed_count: failures since the statistics were reset. */
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
  statsResetAt: Date | null;
  /** The WAL segment being written now; null on a standby. */
  currentWal: string | null;
  /** Completed segments not archived yet (estimated from the names: the current one and the last archived); null when unknown. */
  pendingSegments: number | null;
  /** The server's clock now: ages are measured on it, never on this host's. */
  now: Date;
  inRecovery: boolean;
}

/** Segment number of a WAL file name (TTTTTTTTXXXXXXXXYYYYYYYY), timeline aside. */
function segmentNumber(walFile: string, segmentBytes: number): number {
  const high = parseInt(walFile.slice(8, 16), 16);
  const low = parseInt(walFile.slice(16, 24), 16);
  return high * (0x1_0000_0000 / segmentBytes) + low;
}

/** Reads pg_stat_archiver and the archive settings in one statement. */
export async function readWalArchiving(db: Queryable): Promise<WalArchiving> {
  const { rows } = await db.query<{
    archive_mode: string;
    archive_command: string;
    archive_library: string | null;
    archive_timeout: string;
    archived_count: string;
    last_archived_wal: string | null;
    last_archived_time: Date | null;
    failed_count: string;
    last_failed_wal: string | null;
    last_failed_time: Date | null;
    stats_reset: Date | null;
    current_wal: string | null;
    current_segment: string | null;
    segment_bytes: string;
    in_recovery: boolean;
    now: Date;
  }>(`
    SELECT current_setting('archive_mode') AS archive_mode,
           current_setting('archive_command') AS archive_command,
           current_setting('archive_library', true) AS archive_library,
           (SELECT setting FROM pg_settings WHERE name = 'archive_timeout') AS archive_timeout,
           a.archived_count::text, a.last_archived_wal, a.last_archived_time, a.failed_count::text, a.last_failed_wal, a.last_failed_time,
           a.stats_reset,
           CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS current_wal,
           -- The segment being written, from the position itself: pg_walfile_name names the one before a segment boundary.
           CASE WHEN pg_is_in_recovery() THEN NULL
                ELSE floor(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') / (SELECT setting::numeric FROM pg_settings WHERE name = 'wal_segment_size'))::text
           END AS current_segment,
           (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segment_bytes,
           pg_is_in_recovery() AS in_recovery,
           now() AS now
      FROM pg_stat_archiver a`);
  const r = rows[0]!;
  const segmentBytes = Number(r.segment_bytes);
  // The archiver archives whole segments in order: everything before the one being written is due.
  const pendingSegments =
    r.current_segment !== null && r.last_archived_wal && /^[0-9A-F]{24}$/.test(r.last_archived_wal)
      ? Math.max(0, Number(r.current_segment) - segmentNumber(r.last_archived_wal, segmentBytes) - 1)
      : null;
  return {
    archiveMode: r.archive_mode,
    archiveCommand: r.archive_command,
    archiveLibrary: r.archive_library ?? '',
    archiveTimeoutSeconds: Number(r.archive_timeout),
    archivedCount: Number(r.archived_count),
    lastArchivedWal: r.last_archived_wal,
    lastArchivedAt: r.last_archived_time,
    failedCount: Number(r.failed_count),
    lastFailedWal: r.last_failed_wal,
    lastFailedAt: r.last_failed_time,
    statsResetAt: r.stats_reset,
    currentWal: r.current_wal,
    pendingSegments,
    now: r.now,
    inRecovery: r.in_recovery,
  };
}

/**
 * How long WAL has been waiting to be archived, in seconds: 0 when nothing
 * completed is waiting (an idle server archives nothing for hours and is not
 * behind), else the time since the last segment was archived; null when
 * archiving is off or nothing was ever archived.
 */
export function archiveLagSeconds(a: WalArchiving): number | null {
  if (a.archiveMode === 'off' || a.pendingSegments === null || !a.lastArchivedAt) return null;
  if (a.pendingSegments === 0) return 0;
  return Math.max(0, (a.now.getTime() - a.lastArchivedAt.getTime()) / 1000);
}

/** Whether the archiver's latest attempt failed (a later success clears it). */
export const archivingFails = (a: WalArchiving): boolean =>
  a.lastFailedAt !== null && (a.lastArchivedAt === null || a.lastFailedAt.getTime() > a.lastArchivedAt.getTime());
