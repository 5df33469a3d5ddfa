// `lookout pitr status`: the archiving part from Postgres alone
// (pg_stat_archiver; works on a host without pgBackRest), the backups and
// the recovery window from `pgbackrest info` where pgBackRest is configured.
import { archiveLagSeconds, type WalArchiving } from '../../db/repositories/wal-archiving.js';
import type { PitrBackupFacts } from '../../db/repositories/backups.js';
import { readRepositoryInfo, recoveryWindow, type RecoveryWindow } from './info.js';
import { toolUser, type PitrSettings } from './pgbackrest.js';

/** One backup as `pitr status` lists it. */
export interface PitrStatusBackup {
  label: string;
  type: string;
  startedAt: Date;
  finishedAt: Date;
  bytes: number;
}

export interface PitrStatus {
  stanza: string;
  archiving: {
    /** archive_mode (off: no archiving, no point-in-time recovery). */
    mode: string;
    lastArchivedWal: string | null;
    lastArchivedAt: Date | null;
    failedCount: number;
    lagSeconds: number | null;
  };
  backups: PitrStatusBackup[];
  recoveryWindow: RecoveryWindow | null;
}

const listed = (b: PitrBackupFacts): PitrStatusBackup => ({
  label: b.label,
  type: b.type,
  startedAt: b.startedAt,
  finishedAt: b.finishedAt,
  bytes: b.storedBytes,
});

/** The archiving part of the status (SQL alone). */
export function archivingStatus(a: WalArchiving): PitrStatus['archiving'] {
  const lag = archiveLagSeconds(a);
  return {
    mode: a.archiveMode,
    lastArchivedWal: a.lastArchivedWal,
    lastArchivedAt: a.lastArchivedAt,
    failedCount: a.failedCount,
    lagSeconds: lag === null ? null : Math.round(lag * 10) / 10,
  };
}

/**
 * The status: with `settings` (PGBACKREST_CONFIG set), the repository's
 * backups and window; without, `catalogued` (Lookout's own record of them)
 * and no window.
 * @throws PitrToolError when pgBackRest is configured but cannot answer
 */
export async function pitrStatus(input: {
  stanza: string;
  settings: PitrSettings | undefined;
  archiving: WalArchiving;
  catalogued: () => Promise<PitrBackupFacts[]>;
}): Promise<PitrStatus> {
  const archiving = archivingStatus(input.archiving);
  if (!input.settings) {
    return { stanza: input.stanza, archiving, backups: (await input.catalogued()).map(listed), recoveryWindow: null };
  }
  const user = await toolUser(input.settings);
  const info = await readRepositoryInfo(input.settings, user);
  const window = await recoveryWindow(input.settings, user, info, input.archiving);
  return { stanza: input.stanza, archiving, backups: info.backups.map(listed), recoveryWindow: window };
}
