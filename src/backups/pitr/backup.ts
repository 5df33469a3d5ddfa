// One pgBackRest backup of the cluster (full, diff or incr), and what the
// repository says it made: the label that was not there before it ran. The
// repository's own retention (repo1-retention-full) expires old backups as
// part of the run; `held` lists what is left, for the catalogue.
import type { PitrBackupFacts, PitrBackupType } from '../../db/repositories/backups.js';
import { readRepositoryInfo } from './info.js';
import { pgbackrest, PitrToolError, toolUser, type PitrSettings } from './pgbackrest.js';

/**
 * Runs `pgbackrest backup --type=TYPE` (a diff or incr with no full before it
 * is made full by pgBackRest: `backup.type` says what was made).
 * @throws PitrToolError (permanent when pgBackRest cannot run here, or the stanza is missing)
 */
export async function runPitrBackup(settings: PitrSettings, type: PitrBackupType): Promise<{ backup: PitrBackupFacts; held: string[] }> {
  const user = await toolUser(settings);
  const before = new Set((await readRepositoryInfo(settings, user)).backups.map((b) => b.label));
  await pgbackrest(settings, user, 'backup', [`--type=${type}`]);
  const after = await readRepositoryInfo(settings, user);
  const made = after.backups.filter((b) => !before.has(b.label)).at(-1);
  if (!made) throw new PitrToolError('pgbackrest backup exited 0, but pgbackrest info lists no new backup');
  return { backup: made, held: after.backups.map((b) => b.label) };
}

/** Why pgBackRest cannot run from this process. */
export const PITR_OFF =
  'point-in-time recovery is off here: PGBACKREST_CONFIG is not set (README, "Point-in-time recovery"); pgBackRest work runs on the database host, with it set';

/** pgBackRest's settings from Lookout's configuration. @throws PitrToolError (permanent) when PGBACKREST_CONFIG is not set */
export function pitrSettings(config: { configFile: string | undefined; stanza: string }): PitrSettings {
  if (!config.configFile) throw new PitrToolError(PITR_OFF, true);
  return { configFile: config.configFile, stanza: config.stanza };
}
