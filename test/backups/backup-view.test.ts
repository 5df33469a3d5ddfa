// What the API and `backup list --json` show of a backup: the file's name in
// BACKUP_DIR, never the server's path, in the file field or in an error.
import { describe, expect, it } from 'vitest';
import { backupSummary, type BackupRecord } from '../../src/db/repositories/backups.js';

const record = (over: Partial<BackupRecord>): BackupRecord =>
  ({
    id: '00000000-0000-4000-8000-000000000001',
    status: 'succeeded',
    trigger: 'manual',
    actor: 'test',
    file: null,
    rawBytes: null,
    storedBytes: 10,
    sha256: null,
    keyId: null,
    pgVersion: null,
    migration: null,
    rowCounts: null,
    error: null,
    attempts: 1,
    createdAt: new Date(0),
    startedAt: null,
    finishedAt: null,
    verifiedAt: null,
    ...over,
  }) as BackupRecord;

describe('backupSummary', () => {
  it('names the file, not its path', () => {
    expect(backupSummary(record({ file: '/srv/lookout/backups/lookout-2026-01-01T03-00-00Z-abc.lkb' })).file).toBe('lookout-2026-01-01T03-00-00Z-abc.lkb');
    expect(backupSummary(record({ file: null })).file).toBeNull();
  });

  it("takes the server's directory out of an error", () => {
    const view = backupSummary(
      record({
        status: 'verify_failed',
        file: '/srv/lookout/backups/lookout-x.lkb',
        error: "ENOENT: no such file or directory, open '/srv/lookout/backups/lookout-x.lkb'",
      }),
    );
    expect(view.error).toBe("ENOENT: no such file or directory, open 'lookout-x.lkb'");
  });
});
