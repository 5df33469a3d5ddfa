// pg_dump and pg_restore against the server's major version.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { checkToolsSuitServer, toolMajorVersion, toolsMismatch } from '../../src/backups/pg-tools.js';
import { ADMIN_DATABASE_URL } from '../helpers/test-env.js';

describe('pg tool versions', () => {
  it('older tools than the server are refused with what to install', () => {
    expect(toolsMismatch({ major: 16, text: '16.4' }, { pg_dump: 15, pg_restore: 16 })).toBe(
      'pg_dump 15 cannot handle PostgreSQL 16.4 (major 16): install postgresql-client-16 or newer',
    );
    expect(toolsMismatch({ major: 15, text: '15.20' }, { pg_dump: 15, pg_restore: 14 })).toMatch(/^pg_restore 14 cannot handle PostgreSQL 15.20/);
  });

  it('the same or a newer major version suits', () => {
    expect(toolsMismatch({ major: 15, text: '15.20' }, { pg_dump: 15, pg_restore: 15 })).toBeUndefined();
    expect(toolsMismatch({ major: 14, text: '14.1' }, { pg_dump: 17, pg_restore: 17 })).toBeUndefined();
  });

  it('the tools on this machine suit its server', async () => {
    const pool = new pg.Pool({ connectionString: ADMIN_DATABASE_URL, max: 1 });
    try {
      const result = await checkToolsSuitServer(pool);
      expect(result.dump).toBe(await toolMajorVersion('pg_dump'));
      expect(result.dump).toBeGreaterThanOrEqual(Number(result.server.split('.')[0]));
    } finally {
      await pool.end();
    }
  });
});
