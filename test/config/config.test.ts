// The environment schema: defaults, and a bad value named with what it expects,
// both from the library and from the CLI's exit status.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { runCli } from '../helpers/run-cli.js';

describe('loadConfig', () => {
  it('has sane defaults', () => {
    const config = loadConfig({});
    expect(config.profile).toBe('development');
    expect(config.detect).toEqual({
      model: 'blazeface-back',
      device: { kind: 'cpu' },
      allowCpuFallback: false,
      maxBatch: 8,
      maxDelayMs: 2,
      intraOpThreads: 1,
      maxDetectionsPerImage: 300,
    });
    expect(config.limits).toEqual({ maxBytes: 50 * 1024 * 1024, maxPixels: 50_000_000 });
    expect(config.log.pretty).toBe(true);
  });

  it('reads values and treats empty strings as unset', () => {
    const config = loadConfig({ DETECT_DEVICE: 'cuda:1', DETECT_ALLOW_CPU_FALLBACK: 'true', DETECT_MAX_BATCH: '', NODE_ENV: 'production' });
    expect(config.detect.device).toEqual({ kind: 'cuda', deviceId: 1 });
    expect(config.detect.allowCpuFallback).toBe(true);
    expect(config.detect.maxBatch).toBe(8);
    expect(config.profile).toBe('production');
    expect(config.log.pretty).toBe(false);
  });

  it('names every bad variable and what it expects', () => {
    let error: unknown;
    try {
      loadConfig({ DETECT_MAX_BATCH: 'lots', DETECT_DEVICE: 'gpu0', LOG_LEVEL: 'loud', DETECT_ALLOW_CPU_FALLBACK: 'maybe' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = Object.fromEntries((error as ConfigError).problems.map((p) => [p.variable, p.message]));
    expect(problems).toEqual({
      DETECT_MAX_BATCH: 'expected an integer from 1 to 256, got "lots"',
      DETECT_DEVICE: 'expected cpu or cuda:N, got "gpu0"',
      LOG_LEVEL: 'expected fatal, error, warn, info, debug, trace or silent, got "loud"',
      DETECT_ALLOW_CPU_FALLBACK: 'expected true or false, got "maybe"',
    });
  });
});

describe('ALERT_WEBHOOK_URL', () => {
  const problem = (url: string) => {
    try {
      loadConfig({ ALERT_WEBHOOK_URL: url });
      return undefined;
    } catch (err) {
      return (err as ConfigError).problems.find((p) => p.variable === 'ALERT_WEBHOOK_URL')?.message;
    }
  };
  it('takes an http(s) URL', () => {
    expect(loadConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example/a' }).alerts.webhook?.url).toBe('https://hooks.example/a');
    expect(problem('http://hooks.example:8080/a?b=c')).toBeUndefined();
  });
  it.each([
    'ftp://hooks.example/a',
    'file:///etc/passwd',
    'gopher://hooks.example/',
    'https://user:pw@hooks.example/a',
    'https://user@hooks.example/a',
    'HTTPS://u:p@hooks.example/',
  ])('refuses %s at start, without showing it', (url) => {
    const message = problem(url);
    expect(message).toMatch(/not shown: it is a secret/);
    expect(message).not.toContain('hooks.example');
  });
});

describe('TRUST_PROXY', () => {
  it('trusts loopback proxies by default, and reads none, a hop count or a list of addresses and subnets', () => {
    expect(loadConfig({}).http.trustProxy).toEqual(['loopback']);
    expect(loadConfig({ TRUST_PROXY: 'none' }).http.trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.168.1.7, uniquelocal' }).http.trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '192.168.1.7',
      'uniquelocal',
    ]);
  });

  it('refuses true (any client could claim TLS and any address) and what is not an address', () => {
    for (const bad of ['true', '0', '11', 'proxy.example', '10.0.0.0/33', '10.0.0.1/8/2', ',']) {
      let error: unknown;
      try {
        loadConfig({ TRUST_PROXY: bad });
      } catch (err) {
        error = err;
      }
      expect(error, bad).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([{ variable: 'TRUST_PROXY', message: expect.stringMatching(/^expected none, a hop count .*, got "/) }]);
    }
  });
});

describe('UPLOAD_IDLE_TIMEOUT_MS', () => {
  it('defaults to 60 s, reads milliseconds, refuses what is not 1000..3600000', () => {
    expect(loadConfig({}).upload.idleTimeoutMs).toBe(60_000);
    expect(loadConfig({ UPLOAD_IDLE_TIMEOUT_MS: '2500' }).upload.idleTimeoutMs).toBe(2500);
    for (const bad of ['0', '999', '3600001', '1.5', 'soon']) {
      expect(() => loadConfig({ UPLOAD_IDLE_TIMEOUT_MS: bad })).toThrow(`UPLOAD_IDLE_TIMEOUT_MS: expected an integer from 1000 to 3600000, got "${bad}"`);
    }
  });
});

describe('RETENTION_DAYS', () => {
  it('is unset by default (keep forever), and reads a number of days, 0 or more, decimals allowed', () => {
    expect(loadConfig({}).retention).toEqual({ days: undefined });
    expect(loadConfig({ RETENTION_DAYS: '' }).retention).toEqual({ days: undefined });
    expect(loadConfig({ RETENTION_DAYS: '30' }).retention).toEqual({ days: 30 });
    expect(loadConfig({ RETENTION_DAYS: '0' }).retention).toEqual({ days: 0 });
    expect(loadConfig({ RETENTION_DAYS: ' 0.5 ' }).retention).toEqual({ days: 0.5 });
  });

  it.each(['-1', 'forever', '1e3', '30d', '36501'])('refuses %j, naming the variable', (value) => {
    expect(() => loadConfig({ RETENTION_DAYS: value })).toThrow(/RETENTION_DAYS: expected (a number of days, 0 or more|at most 36500 days)/);
  });
});

describe('a bad environment at start', () => {
  it('exits non-zero naming the variable', async () => {
    const { code, stdout, stderr } = await runCli(['detect', 'x.png'], { env: { IMAGE_MAX_PIXELS: '-5' } });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('IMAGE_MAX_PIXELS: expected an integer from 1 to 2147483647, got "-5"');
  });
});

describe('a bad secret is named, never shown', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  // [variable, a bad value that carries a secret, the secret part]
  const cases: Array<[string, string, string]> = [
    ['BACKUP_ENCRYPTION_KEY', `${key} `, key],
    ['BACKUP_ENCRYPTION_KEY', key.slice(0, 20), key.slice(0, 20)],
    ['BACKUP_OLD_KEYS', `abc,${key}x`, key],
    ['ALERT_WEBHOOK_SECRET', 'short-secret', 'short-secret'],
    ['BATCH_WEBHOOK_SECRET', 'tooshort', 'tooshort'],
    ['ALERT_WEBHOOK_URL', 'hooks.example/services/T0/B0/XXXXsecretpath', 'XXXXsecretpath'],
    ['REDIS_URL', 'http://u:hunter2@h', 'hunter2'],
    ['DATABASE_URL', 'mysql://app:hunter2@db/x', 'hunter2'],
    ['SMTP_URL', 'ftp://u:hunter2@h', 'hunter2'],
  ];

  it.each(cases)('%s: the error names the variable and hides the value', (variable, value, secret) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.filter((p) => p.variable === variable);
    expect(problems.length).toBeGreaterThan(0);
    expect((error as Error).message).not.toContain(secret);
    for (const p of problems)
      expect(p.message).toMatch(variable.endsWith('_URL') && variable !== 'ALERT_WEBHOOK_URL' ? /password masked|got "/ : /not shown: it is a secret/);
  });

  it('from the CLI too: exit 2, the variable named, the key nowhere in the output', async () => {
    const { code, stdout, stderr } = await runCli(['config', 'check'], { env: { BACKUP_ENCRYPTION_KEY: `${key} ` } });
    expect(code).toBe(2);
    expect(stderr).toContain('BACKUP_ENCRYPTION_KEY: expected 32 random bytes');
    expect(stdout + stderr).not.toContain(key);
  });

  it('values that are not secrets are still quoted, to show what was wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow('PORT: expected an integer from 0 to 65535, got "eighty"');
  });
});
