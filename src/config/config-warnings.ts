// What a valid configuration can still get wrong, by choice or by omission:
// said by `lookout config check`, the health page and the console in the
// same words.
import type { Config } from './config.js';

/** Backups are off, and the command that turns them on. */
export const BACKUPS_OFF =
  'backups are off: BACKUP_ENCRYPTION_KEY is not set; to turn them on, set it to a new key (openssl rand -base64 32), keep a copy somewhere safe (restores need it) and restart Lookout';

/** One line per risky setting of a configuration that parsed; empty when there is nothing to say. */
export function configWarnings(config: Pick<Config, 'backup' | 'blobs' | 'unusedVariables'>): string[] {
  const warnings: string[] = [];
  if (!config.backup.key) warnings.push(BACKUPS_OFF);
  warnings.push(...unusedVariableWarnings(config));
  return warnings;
}

/**
 * Variables set for nothing: S3_BUCKET or S3_PREFIX while BLOB_STORE is fs
 * (the default), where a user who meant to keep images in the bucket would
 * otherwise find them on a local disk. Logged by the server processes at start.
 */
export function unusedVariableWarnings(config: Pick<Config, 'blobs' | 'unusedVariables'>): string[] {
  if (config.unusedVariables.length === 0 || config.blobs.store !== 'fs') return [];
  const names = config.unusedVariables.join(' and ');
  return [
    `${names} ${config.unusedVariables.length > 1 ? 'are' : 'is'} set but BLOB_STORE is fs (the default): uploaded images are kept in BLOB_DIR (${config.blobs.dir}), not in a bucket; set BLOB_STORE=s3 to keep them in S3_BUCKET, or unset ${names}`,
  ];
}
