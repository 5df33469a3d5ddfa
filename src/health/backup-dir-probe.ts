// BACKUP_DIR: a backup that cannot be written fails only when it runs, hours
// later. This probe finds out now: the directory exists and is a directory,
// and a file can be created in it and removed (modes alone say nothing:
// root ignores them, and a read-only mount refuses root too). A directory
// not made yet is fine when it can be made (the first backup creates it, as
// `mkdir -p`); if a volume should be mounted there, the message says so.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ComponentHealth } from '../db/repositories/health-checks.js';

const NAME = 'backup.dir';

const critical = (message: string): ComponentHealth => ({ name: NAME, status: 'critical', value: 'unwritable', threshold: 'writable', message });

/** The nearest existing ancestor of `dir`, with what it is. */
async function nearestExisting(dir: string): Promise<{ at: string; isDirectory: boolean }> {
  for (let at = path.dirname(dir); ; at = path.dirname(at)) {
    const found = await stat(at).catch(() => undefined);
    if (found) return { at, isDirectory: found.isDirectory() };
    if (path.dirname(at) === at) return { at, isDirectory: false };
  }
}

/**
 * Whether backups can be written to `dir`.
 * @param enabled false when backups are off (no BACKUP_ENCRYPTION_KEY): then
 *   nothing is checked and the component is ok (backup.enabled warns instead)
 * @returns `backup.dir`: ok, or critical naming the problem and the directory
 *   (for operators: /v1/health needs a key)
 */
export async function probeBackupDir(dir: string, enabled: boolean): Promise<ComponentHealth> {
  if (!enabled) return { name: NAME, status: 'ok', value: 'off', threshold: 'writable', message: 'backups are off: BACKUP_DIR not checked' };
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return critical(`BACKUP_DIR ${dir} cannot exist: a part of its path is a file, not a directory`);
    if (code !== 'ENOENT') return critical(`BACKUP_DIR ${dir} cannot be read (${code ?? String(err)})`);
    const parent = await nearestExisting(dir);
    if (!parent.isDirectory) return critical(`BACKUP_DIR ${dir} does not exist and cannot be created: ${parent.at} is not a directory`);
    try {
      await access(parent.at, constants.W_OK | constants.X_OK);
    } catch {
      return critical(`BACKUP_DIR ${dir} does not exist and cannot be created: ${parent.at} is not writable`);
    }
    return {
      name: NAME,
      status: 'ok',
      value: 'missing',
      threshold: 'writable',
      message: `BACKUP_DIR ${dir} does not exist yet; the first backup creates it (if a volume should be mounted there, it is not)`,
    };
  }
  if (!info.isDirectory()) return critical(`BACKUP_DIR ${dir} is not a directory`);
  const probe = path.join(dir, `.lookout-probe-${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx');
    await handle.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return critical(`BACKUP_DIR ${dir} is not writable (${code === 'EROFS' ? 'a read-only file system' : (code ?? String(err))})`);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  return { name: NAME, status: 'ok', value: 'writable', threshold: 'writable', message: `BACKUP_DIR ${dir} is writable` };
}
