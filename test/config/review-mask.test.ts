// `lookout config check` masking, reviewed (issue 15, hole 9): node-postgres
// and ioredis both take a password from the URL's query string
// (`?password=`, `?sslpassword=`) as well as from its user part, and the
// alert webhook URL is its own credential (config.ts never shows it in an
// error either). None of them may be printed.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { maskSecrets, maskUrl } from '../../src/config/mask-secrets.js';
import { runCli } from '../helpers/run-cli.js';

const SECRETS = ['app-qs-secret', 'ssl-key-pass', 'owner-qs-secret', 'redis-qs-secret', 'smtp-qs-secret', 'hook-path-token', 'hook-qs-token'];

const env = {
  DATABASE_URL: 'postgres://lookout_app@127.0.0.1:5432/lookout?password=app-qs-secret&sslpassword=ssl-key-pass&application_name=lookout',
  DATABASE_OWNER_URL: 'postgres://lookout_owner@127.0.0.1:5432/lookout?PASSWORD=owner-qs-secret',
  REDIS_URL: 'redis://127.0.0.1:6379/0?password=redis-qs-secret',
  ALERT_EMAIL_TO: 'ops@example.com',
  SMTP_URL: 'smtp://mailer@smtp.example.com:587/?pass=smtp-qs-secret',
  ALERT_WEBHOOK_URL: 'https://hooks.example.com/services/hook-path-token?token=hook-qs-token', // credentials in it are refused at start (test/config/config.test.ts),
};

describe('secrets in URLs are masked wherever they sit', () => {
  it('the drivers do read a password from the query string (so it is a secret there)', () => {
    expect(new pg.Client({ connectionString: env.DATABASE_URL }).password).toBe('app-qs-secret');
  });

  it('maskUrl masks secret query parameters and keeps the rest', () => {
    expect(maskUrl(env.DATABASE_URL)).toBe('postgres://lookout_app@127.0.0.1:5432/lookout?password=********&sslpassword=********&application_name=lookout');
    expect(maskUrl('postgres://u:p@h/db?sslmode=require')).toBe('postgres://u:********@h/db?sslmode=require');
  });

  it('maskSecrets shows no password, key or token of any URL', () => {
    const shown = JSON.stringify(maskSecrets(loadConfig(env)));
    for (const secret of SECRETS) expect(shown, secret).not.toContain(secret);
    expect(shown).toContain('hooks.example.com'); // where alerts go stays visible
    expect(shown).toContain('application_name=lookout');
  });

  it('`lookout config check` prints none of them', async () => {
    const result = await runCli(['config', 'check'], { env });
    expect(result.code, result.stderr).toBe(0);
    for (const secret of SECRETS) expect(result.stdout + result.stderr, secret).not.toContain(secret);
  });
});
