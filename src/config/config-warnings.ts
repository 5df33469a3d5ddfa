// What a valid configuration can still get wrong, by choice or by omission:
// said by `lookout config check`, the health page and the console in the
// same words.
import type { Config } from './config.js';

/** Backups are off, and the command that turns them on. */
export const BACKUPS_OFF =
  'backups are off: BACKUP_ENCRYPTION_KEY is not set; to turn them on, set it to a new key (openssl rand -base64 32), keep a copy somewhere safe (restores need it) and restart Lookout';

/** One line per risky setting of a configuration that parsed; empty when there is nothing to say. */
export function configWarnings(config: Pick<Config, 'backup'>): string[] {
  const warnings: string[] = [];
  if (!config.backup.key) warnings.push(BACKUPS_OFF);
  return warnings;
}
