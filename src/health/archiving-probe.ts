// `postgres.archiving`: is WAL reaching the archive that point-in-time
// recovery restores from? Read from Postgres alone (pg_stat_archiver and the
// archive settings), so any process that probes health can tell, whether or
// not pgBackRest runs there. Archiving off is its own quiet state: ok, value
// "off", no alert (PITR is not set up), unless this process is configured for
// PITR (PGBACKREST_CONFIG), which then promises what the server does not do.
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { ComponentHealth } from '../db/repositories/health-checks.js';
import { archiveLagSeconds, archivingFails, readWalArchiving, type WalArchiving } from '../db/repositories/wal-archiving.js';
import { plural } from '../text/format.js';
import { checkConfigFileTrust, UntrustedConfigFileError } from '../security/config-file-trust.js';
import { scrubSecrets } from '../text/scrub-secrets.js';
import { withTimeout } from './with-timeout.js';

export const ARCHIVING_COMPONENT = 'postgres.archiving';

const ago = (now: Date, at: Date): string => {
  const s = Math.max(0, (now.getTime() - at.getTime()) / 1000);
  return s < 120 ? `${s.toFixed(0)} s ago` : s < 7200 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
};

/**
 * What is wrong with archive_command as far as Lookout can tell without the
 * server log: it does not run pgbackrest, or names another stanza than
 * PGBACKREST_STANZA. Empty when nothing stands out.
 */
export function commandHint(archiveCommand: string, stanza: string): string {
  if (!/\bpgbackrest\b/.test(archiveCommand)) return ' (it does not run pgbackrest)';
  const named = /--stanza[= ]\s*("?)([^\s"]+)\1/.exec(archiveCommand)?.[2];
  if (named && named !== stanza) return ` (it names stanza "${named}"; PGBACKREST_STANZA is "${stanza}")`;
  return '';
}

/** The component for one reading of the archiver (pure: the probe and the tests share it). */
export function judgeArchiving(a: WalArchiving, config: { stanza: string; configured: boolean; lagMinutes: number }): ComponentHealth {
  const threshold = config.lagMinutes * 60;
  const base = { name: ARCHIVING_COMPONENT, threshold, unit: 'seconds' };
  if (a.inRecovery && a.archiveMode !== 'always') {
    return { ...base, status: 'ok', value: 'standby', message: 'this server is a standby: its primary archives the WAL' };
  }
  if (a.archiveMode === 'off') {
    return config.configured
      ? {
          ...base,
          status: 'critical',
          value: 'off',
          message:
            'PGBACKREST_CONFIG is set but the server does not archive WAL (archive_mode = off): no recovery past the last backup; set archive_mode = on and archive_command to pgbackrest archive-push, then restart Postgres',
        }
      : {
          ...base,
          status: 'ok',
          value: 'off',
          threshold: null,
          message: 'WAL archiving is off (archive_mode = off): no point-in-time recovery; README, "Point-in-time recovery", sets it up',
        };
  }
  const command = scrubSecrets(a.archiveCommand);
  if (!command && !a.archiveLibrary) {
    return {
      ...base,
      status: 'critical',
      value: null,
      message:
        'archive_mode is on but archive_command is empty: WAL piles up in pg_wal and nothing is archived; set archive_command to pgbackrest archive-push',
    };
  }
  const lag = archiveLagSeconds(a);
  const last = a.lastArchivedWal && a.lastArchivedAt ? `last archived ${a.lastArchivedWal} ${ago(a.now, a.lastArchivedAt)}` : 'nothing archived yet';
  const failures = `${a.failedCount} failed (pg_stat_archiver) since ${a.statsResetAt ? a.statsResetAt.toISOString() : 'the statistics were reset'}`;
  if (archivingFails(a)) {
    const what = a.archiveLibrary ? `archive_library ${a.archiveLibrary}` : `archive_command "${command}"${commandHint(a.archiveCommand, config.stanza)}`;
    return {
      ...base,
      status: 'critical',
      value: lag === null ? null : Math.round(lag),
      message:
        `WAL archiving fails: ${what} failed for ${a.lastFailedWal} ${ago(a.now, a.lastFailedAt!)}; ${last}; ${failures}` +
        (a.pendingSegments ? `; ${plural(a.pendingSegments, 'segment')} waiting` : '') +
        " (the server log has the command's own error)",
    };
  }
  if (lag !== null && lag > threshold) {
    return {
      ...base,
      status: 'critical',
      value: Math.round(lag),
      message: `WAL archiving lags: ${plural(a.pendingSegments ?? 0, 'segment')} waiting, ${last} (ALERT_ARCHIVE_LAG_MINUTES is ${config.lagMinutes}); is archive_command hanging?`,
    };
  }
  return {
    ...base,
    status: 'ok',
    value: lag === null ? null : Math.round(lag),
    message: `${last}; ${failures}; ${a.pendingSegments ? `${plural(a.pendingSegments, 'segment')} waiting` : 'nothing waiting'}`,
  };
}

/**
 * Why PGBACKREST_CONFIG cannot be trusted here (group- or world-writable, or
 * its directory; checkConfigFileTrust), or undefined. A file this process
 * cannot read is not judged: it may live on the database host only.
 */
export async function configFileDistrust(configFile: string): Promise<string | undefined> {
  try {
    await checkConfigFileTrust(configFile, 'PGBACKREST_CONFIG');
    return undefined;
  } catch (err) {
    if (err instanceof UntrustedConfigFileError && !err.unreadable) return `${err.message}; Lookout runs no pgbackrest command until it is fixed`;
    return undefined;
  }
}

/** Reads the archiver and judges it (see judgeArchiving); critical at once when PGBACKREST_CONFIG cannot be trusted. */
export async function probeArchiving(pool: Pool, config: Pick<Config, 'pitr' | 'alerts'>): Promise<ComponentHealth> {
  const untrusted = config.pitr.configFile ? await configFileDistrust(config.pitr.configFile) : undefined;
  if (untrusted) return { name: ARCHIVING_COMPONENT, threshold: null, status: 'critical', value: 'untrusted_config', message: untrusted };
  const archiving = await withTimeout(readWalArchiving(pool), 2000);
  return judgeArchiving(archiving, {
    stanza: config.pitr.stanza,
    configured: config.pitr.configFile !== undefined,
    lagMinutes: config.alerts.archiveLagMinutes,
  });
}
