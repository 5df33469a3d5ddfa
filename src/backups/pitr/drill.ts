// The restore drill: the latest point of the archive restored into a scratch
// directory, started on a free port (127.0.0.1, a private socket, archiving
// off), checked (row counts of Lookout's tables, amcheck on their indexes)
// and removed. RPO: the drill's target time minus when the last WAL segment
// was archived (what a failure at that instant would lose at most); RTO: how
// long the restore and the start until promotion took. WAL-G runs this
// restore test in its own CI; here it runs on the user's real data.
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PitrBackupFacts } from '../../db/repositories/backups.js';
import { checkRestoredCopy } from '../../db/restored-copy-check.js';
import { readRepositoryInfo } from './info.js';
import { giveToToolUser, PitrToolError, toolUser, type PitrSettings } from './pgbackrest.js';
import { restoreCluster, stopCluster } from './restore-cluster.js';

/** Seconds to a tenth: what the catalogue, the metrics and the CLI show. */
const tenths = (s: number): number => Math.round(s * 10) / 10;

export interface DrillDeps {
  settings: PitrSettings;
  /** Lookout's database (DATABASE_URL's) and a role of it: what the copy is checked as. */
  database: string;
  databaseUser: string;
  /** When the live cluster last archived a WAL segment (pg_stat_archiver), read at the drill's target time. */
  lastArchivedAt: () => Promise<Date | null>;
  now: () => Date;
  freePort: () => Promise<number>;
  /** Where the scratch directory goes (default the OS's temp dir: TMPDIR). */
  scratchRoot?: string;
  onPhase?: (phase: 'restore' | 'check' | 'remove') => void;
}

export interface DrillResult {
  backup: PitrBackupFacts;
  target: Date;
  lastArchivedAt: Date | null;
  rpoSeconds: number | null;
  rtoSeconds: number;
  recoveredTo: Date | null;
  rowCounts: Record<string, number>;
  indexesChecked: number;
  /** The scratch directory the copy lived in, removed before this returns. */
  scratchDir: string;
}

/** The drill ran and the copy failed (restore, start or a check); the backup it restored, when known. */
export class DrillFailedError extends Error {
  override name = 'DrillFailedError';
  constructor(
    message: string,
    readonly backup: PitrBackupFacts | undefined,
  ) {
    super(message);
  }
}

/**
 * Runs one drill. The scratch copy is stopped and its directory removed
 * whatever happens.
 * @throws PitrToolError (permanent) when pgBackRest cannot run here or the stanza is missing: no drill happened
 * @throws DrillFailedError when the restore, the start or a check failed
 */
export async function runDrill(deps: DrillDeps): Promise<DrillResult> {
  const user = await toolUser(deps.settings);
  const info = await readRepositoryInfo(deps.settings, user);
  const backup = info.backups.at(-1);
  if (!backup || !info.pgVersion) throw new PitrToolError(`stanza "${deps.settings.stanza}" holds no backup yet: run lookout pitr backup first`, true);
  const target = deps.now();
  const lastArchivedAt = await deps.lastArchivedAt();
  // Its real path: a restore refuses a data directory named through a symbolic link (TMPDIR may be one).
  const scratchDir = await realpath(await mkdtemp(path.join(deps.scratchRoot ?? os.tmpdir(), 'lookout-pitr-drill-')));
  const dataDir = path.join(scratchDir, 'data');
  try {
    await giveToToolUser(scratchDir, user);
    // The copy's only door: its socket, in a directory only the database's OS user (and root) may enter.
    const hbaFile = path.join(scratchDir, 'pg_hba.conf');
    await writeFile(hbaFile, '# lookout pitr drill: the private socket only\nlocal all all trust\n', { mode: 0o600 });
    await giveToToolUser(hbaFile, user);
    const port = await deps.freePort();
    deps.onPhase?.('restore');
    const restored = await restoreCluster(deps.settings, user, {
      target: { latest: true, set: backup.label },
      dataDir,
      pgMajor: info.pgVersion,
      start: { port, socketDir: scratchDir, hbaFile, timeoutMs: 6 * 3600_000 },
    }).catch((err: unknown) => {
      throw new DrillFailedError(`restore of ${backup.label} failed: ${(err as Error).message}`, backup);
    });
    const rtoSeconds = tenths(restored.restoreSeconds + restored.startSeconds);
    deps.onPhase?.('check');
    const check = await checkRestoredCopy({ socketDir: scratchDir, port, database: deps.database, user: deps.databaseUser }).catch((err: unknown) => {
      throw new DrillFailedError(`the restored copy of ${backup.label} failed its check: ${(err as Error).message}`, backup);
    });
    if (check.corrupt.length > 0) {
      throw new DrillFailedError(`amcheck found ${check.corrupt.length} corrupt index(es) in the copy of ${backup.label}: ${check.corrupt.join('; ')}`, backup);
    }
    return {
      backup,
      target,
      lastArchivedAt,
      rpoSeconds: lastArchivedAt ? tenths(Math.max(0, (target.getTime() - lastArchivedAt.getTime()) / 1000)) : null,
      rtoSeconds,
      recoveredTo: restored.recoveredTo,
      rowCounts: check.rowCounts,
      indexesChecked: check.indexesChecked,
      scratchDir,
    };
  } finally {
    deps.onPhase?.('remove');
    await stopCluster(deps.settings, user, info.pgVersion, dataDir, 'immediate').catch(() => undefined);
    await rm(scratchDir, { recursive: true, force: true });
  }
}
