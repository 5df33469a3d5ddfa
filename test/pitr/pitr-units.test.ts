// The pure parts of point-in-time recovery (issue 20): secrets scrubbed from
// another program's words, the archiving component's judgement (off is quiet),
// pgbackrest info parsed at the edge, times as pgBackRest and Postgres write
// them, the pitr settings and which processes run the pitr queue.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRepositoryInfo } from '../../src/backups/pitr/info.js';
import { lastLines, pgbackrest, PitrConfigError, PitrToolError, runTool, toolEnv, toolUser } from '../../src/backups/pitr/pgbackrest.js';
import {
  checkCommandSafePath,
  checkEmptyDir,
  lastTransactionTime,
  parseLogTime,
  PitrRestoreRefused,
  targetText,
} from '../../src/backups/pitr/restore-cluster.js';
import { parseIsoTime } from '../../src/cli/commands/pitr.js';
import { parseNonNegativeInt, parsePositiveInt } from '../../src/cli/options.js';
import { loadConfig } from '../../src/config/config.js';
import { backupSummary, type BackupRecord } from '../../src/db/repositories/backups.js';
import type { WalArchiving } from '../../src/db/repositories/wal-archiving.js';
import { commandHint, configFileDistrust, judgeArchiving } from '../../src/health/archiving-probe.js';
import { ruleFor } from '../../src/alerts/rules.js';
import { BackupUnusableError, checkRestorable } from '../../src/producers/backup-requests.js';
import { scrubJoinedLines, scrubSecrets } from '../../src/text/scrub-secrets.js';
import { runCli } from '../helpers/run-cli.js';
import { defaultWorkerQueues, OPS_QUEUES, opsQueuesFor } from '../../src/workers/worker-process.js';

const hasPgbackrest = (() => {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('scrubSecrets', () => {
  it('masks secret-named options and variables, and known secrets, wherever they appear', () => {
    // A line naming a cipher pass is masked after the name, whatever follows.
    expect(scrubSecrets('pgbackrest --repo1-cipher-pass=hunter2xyz --stanza=lookout archive-push %p')).toBe('pgbackrest --repo1-cipher-pass=********');
    expect(scrubSecrets('PGBACKREST_REPO1_CIPHER_PASS=abc pgbackrest backup')).toBe('PGBACKREST_REPO1_CIPHER_PASS=********');
    expect(scrubSecrets('pgbackrest --repo1-s3-key-secret=abc --stanza=lookout backup')).toBe(
      'pgbackrest --repo1-s3-key-secret=******** --stanza=lookout backup',
    );
    expect(scrubSecrets('--repo1-s3-key-secret "a b" --repo1-s3-key AKIA')).toBe('--repo1-s3-key-secret ******** --repo1-s3-key ********');
    expect(scrubSecrets('ERROR: [029]: unable to decrypt with sekrit-value', ['sekrit-value'])).toBe('ERROR: [029]: unable to decrypt with ********');
    expect(scrubSecrets('ERROR: [037]: backup command requires option: pg1-path')).toBe('ERROR: [037]: backup command requires option: pg1-path');
  });

  it('masks whatever pgBackRest quotes from its configuration in an error, whatever the key (its own message formats)', () => {
    const cases: Array<[string, string]> = [
      ["ERROR: [029]: missing '=' in key/value at line 4: repo1-cipher-pass Hunter2secret", "ERROR: [029]: missing '=' in key/value at line 4: ********"],
      ["ERROR: [029]: missing '=' in key/value at line 2: Hunter2secret", "ERROR: [029]: missing '=' in key/value at line 2: ********"],
      [
        'ERROR: [029]: key/value found outside of section at line 1: repo1-s3-key=Hunter2secret',
        'ERROR: [029]: key/value found outside of section at line 1: ********',
      ],
      ['ERROR: [029]: ini section should end with ] at line 3: [Hunter2secret', 'ERROR: [029]: ini section should end with ] at line 3: ********'],
      ["ERROR: [029]: invalid JSON value at line 5 'Hunter2secret': unexpected", 'ERROR: [029]: invalid JSON value at line 5: ********'],
      ["ERROR: [032]: 'Hunter2secret' is not allowed for 'repo1-cipher-type' option", "ERROR: [032]: '********' is not allowed for 'repo1-cipher-type' option"],
      ["ERROR: [032]: 'Hun'ter2 secret' is not valid for 'repo1-type' option", "ERROR: [032]: '********' is not valid for 'repo1-type' option"],
      ["ERROR: [032]: 'Hunter2secret' is not valid for option 'log-level-console'", "ERROR: [032]: '********' is not valid for option 'log-level-console'"],
      ["ERROR: [033]: 'Hunter2secret' is out of range for 'compress-level' option", "ERROR: [033]: '********' is out of range for 'compress-level' option"],
      ["ERROR: [032]: 'Hunter2secret' must begin with / for 'repo1-path' option", "ERROR: [032]: '********' must begin with / for 'repo1-path' option"],
      ["ERROR: [032]: key/value 'Hunter2secret' not valid for 'db-include' option", "ERROR: [032]: key/value '********' not valid for 'db-include' option"],
      ["ERROR: [032]: invalid value for 'repo1-type' option: Hunter2secret", "ERROR: [032]: invalid value for 'repo1-type' option: ********"],
      ["ERROR: [031]: option 'repo1-cipher-pass' is not allowed on the command-line: Hunter2secret", "ERROR: [031]: option 'repo1-cipher-pass' ********"],
    ];
    for (const [text, shown] of cases) {
      expect(scrubSecrets(text)).toBe(shown);
      expect(new PitrToolError(`pgbackrest info failed (exit 29): ${text}`).message).not.toContain('Hunter2');
    }
    // Raw text: the quoting line goes to its end, " | " or not; lines joined by Lookout: only the quoting line's content goes.
    expect(scrubSecrets("ERROR: [029]: missing '=' in key/value at line 2: Hunter2 | secret")).toBe(
      "ERROR: [029]: missing '=' in key/value at line 2: ********",
    );
    expect(scrubJoinedLines("ERROR: [029]: missing '=' in key/value at line 2: Hunter2secret | INFO: info command end")).toBe(
      "ERROR: [029]: missing '=' in key/value at line 2: ******** | INFO: info command end",
    );
    expect(lastLines("P00 INFO: start\nERROR: [029]: missing '=' in key/value at line 4: repo1-cipher-pass a | b secret")).toBe(
      "P00 INFO: start | ERROR: [029]: missing '=' in key/value at line 4: ********",
    );
  });

  it.skipIf(!hasPgbackrest)('the real pgbackrest: a broken config file fails permanently, its quoted line masked everywhere', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-pgbr-conf-'));
    try {
      const broken = [
        '[global]\nrepo1-path=/nonexistent/lookout-repo\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass Hunter2secret\n',
        '[global]\nrepo1-cipher-pass=\nHunter2secret\n',
        '[global]\nrepo1-cipher-type=Hunter2secret\n',
      ];
      for (const [i, text] of broken.entries()) {
        const configFile = path.join(dir, `broken-${i}.conf`);
        await writeFile(configFile, text, { mode: 0o600 });
        const err = await pgbackrest({ configFile, stanza: 'lookout' }, undefined, 'info', ['--output=json']).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(PitrToolError);
        const toolError = err as PitrToolError;
        expect(toolError.message).toMatch(/exit (29|32)/);
        expect(toolError.message).toContain('********');
        expect(toolError.message).not.toContain('Hunter2');
        expect(toolError.stack).not.toContain('Hunter2');
        expect(toolError.permanent).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the tools get only what they use of Lookout's environment: never DATABASE_URL or BACKUP_ENCRYPTION_KEY", async () => {
    const settings = { configFile: '/etc/pgbackrest/pgbackrest.conf', stanza: 'lookout' };
    const env = toolEnv(settings, {
      PATH: '/usr/bin:/bin',
      HOME: '/var/lib/postgresql',
      LANG: 'en_US.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      PGBACKREST_REPO1_PATH: '/repo',
      PGHOST: '/var/run/postgresql',
      PGPORT: '5432',
      PGPASSWORD: 'pw-of-lookout',
      DATABASE_URL: 'postgres://lookout:pw@127.0.0.1/lookout',
      BACKUP_ENCRYPTION_KEY: 'k'.repeat(44),
      REDIS_URL: 'redis://127.0.0.1:6379',
      ALERT_WEBHOOK_SECRET: 's',
    });
    expect(env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/var/lib/postgresql',
      LANG: 'en_US.UTF-8',
      LC_ALL: 'C.UTF-8',
      LC_MESSAGES: 'C',
      TZ: 'UTC',
      PGBACKREST_REPO1_PATH: '/repo',
      PGBACKREST_CONFIG: '/etc/pgbackrest/pgbackrest.conf',
      PGBACKREST_STANZA: 'lookout',
      PGHOST: '/var/run/postgresql',
      PGPORT: '5432',
    });
    // A real child: what it sees.
    const saved = { DATABASE_URL: process.env.DATABASE_URL, BACKUP_ENCRYPTION_KEY: process.env.BACKUP_ENCRYPTION_KEY };
    process.env.DATABASE_URL = 'postgres://lookout:Sekrit-url@127.0.0.1/lookout';
    process.env.BACKUP_ENCRYPTION_KEY = 'Sekrit-key';
    try {
      const seen = await runTool('env', [], { settings, user: undefined });
      expect(seen).toContain('PGBACKREST_CONFIG=/etc/pgbackrest/pgbackrest.conf\n');
      expect(seen).toMatch(/^PATH=/m);
      expect(seen).not.toContain('Sekrit');
    } finally {
      for (const [name, value] of Object.entries(saved))
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
    }
  });

  it('PitrToolError messages are scrubbed', () => {
    expect(new PitrToolError('pgbackrest failed: --repo1-cipher-pass=topsecret').message).not.toContain('topsecret');
  });
});

const isRoot = process.getuid?.() === 0;
const uidOf = (user: string): number | undefined => {
  try {
    return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
};

describe('PGBACKREST_CONFIG must be trusted: only its owner may change it or its directory', () => {
  const withConfig = async (fn: (dir: string, file: string) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-pgbr-trust-'));
    const file = path.join(dir, 'pgbackrest.conf');
    await writeFile(file, '[global]\nrepo1-path=/nonexistent\n');
    try {
      await fn(dir, file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const refusal = (settings: { configFile: string; stanza: string }) =>
    toolUser(settings).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

  it('a group- or world-writable file is refused, naming the file and its mode, permanently; the health component says why', async () => {
    await withConfig(async (_dir, file) => {
      for (const [mode, words] of [
        [0o666, 'world-writable (mode 0666'],
        [0o664, 'group-writable (mode 0664'],
        [0o620, 'group-writable (mode 0620'],
      ] as const) {
        await chmod(file, mode);
        const err = await refusal({ configFile: file, stanza: 'lookout' });
        expect(err).toBeInstanceOf(PitrConfigError);
        expect((err as PitrConfigError).permanent).toBe(true);
        expect(err!.message).toContain(`PGBACKREST_CONFIG ${file} is ${words}`);
        expect(await configFileDistrust(file)).toContain(words);
      }
      await chmod(file, 0o640);
      expect(await configFileDistrust(file)).toBeUndefined();
      expect(await configFileDistrust(path.join(os.tmpdir(), 'lookout-no-such-dir', 'x.conf'))).toBeUndefined(); // on another host, maybe
    });
  });

  it('a file in a directory others may write (not sticky) is refused', async () => {
    await withConfig(async (dir, file) => {
      await chmod(file, 0o600);
      await chmod(dir, 0o777);
      expect((await refusal({ configFile: file, stanza: 'lookout' }))?.message).toContain(`is in ${dir}, which is world-writable (mode 0777)`);
      expect(await configFileDistrust(file)).toContain('world-writable (mode 0777)');
      await chmod(dir, 0o770);
      expect((await refusal({ configFile: file, stanza: 'lookout' }))?.message).toContain('group-writable (mode 0770)');
    });
  });

  const postgresUid = uidOf('postgres');
  it.skipIf(!isRoot || postgresUid === undefined)(
    'as root: runs as the owner of a trusted file; root-owned, or a directory another user owns, is refused',
    async () => {
      await withConfig(async (dir, file) => {
        await chmod(file, 0o640);
        expect((await refusal({ configFile: file, stanza: 'lookout' }))?.message).toMatch(/root owns PGBACKREST_CONFIG/);
        await chown(file, postgresUid!, postgresUid!);
        await chmod(dir, 0o755);
        expect(await toolUser({ configFile: file, stanza: 'lookout' })).toMatchObject({ uid: postgresUid });
        await chown(dir, 65534, 65534);
        const err = await refusal({ configFile: file, stanza: 'lookout' });
        expect(err).toBeInstanceOf(PitrConfigError);
        expect(err!.message).toContain(`owned by uid 65534, neither root nor the file's owner (uid ${postgresUid})`);
      });
    },
  );

  it('lookout pitr restore with a world-writable PGBACKREST_CONFIG exits 2, naming the file and its mode', async () => {
    await withConfig(async (dir, file) => {
      await chmod(file, 0o666);
      const res = await runCli(['pitr', 'restore', '--to', '2026-01-01T00:00:00Z', '--pg-data', path.join(dir, 'copy'), '--json'], {
        env: { PGBACKREST_CONFIG: file, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
      });
      expect(res.code).toBe(2);
      expect(JSON.parse(res.stdout)).toMatchObject({ status: 'failed', error: expect.stringContaining(`${file} is world-writable (mode 0666`) });
    });
  });
});

const reading = (over: Partial<WalArchiving> = {}): WalArchiving => ({
  archiveMode: 'on',
  archiveCommand: 'pgbackrest --stanza=lookout archive-push %p',
  archiveLibrary: '',
  archiveTimeoutSeconds: 60,
  archivedCount: 10,
  lastArchivedWal: '00000001000000000000000A',
  lastArchivedAt: new Date('2026-01-01T00:00:00Z'),
  failedCount: 0,
  lastFailedWal: null,
  lastFailedAt: null,
  statsResetAt: new Date('2025-12-31T00:00:00Z'),
  currentWal: '00000001000000000000000B',
  pendingSegments: 0,
  now: new Date('2026-01-01T00:00:30Z'),
  inRecovery: false,
  ...over,
});
const judged = (over: Partial<WalArchiving> = {}, configured = true) => judgeArchiving(reading(over), { stanza: 'lookout', configured, lagMinutes: 15 });

describe('the postgres.archiving component', () => {
  it('off is its own quiet state where PITR is not set up, and critical where this process says it is', () => {
    expect(judged({ archiveMode: 'off' }, false)).toMatchObject({ name: 'postgres.archiving', status: 'ok', value: 'off', threshold: null });
    expect(judged({ archiveMode: 'off' }, true)).toMatchObject({
      status: 'critical',
      value: 'off',
      message: expect.stringContaining('PGBACKREST_CONFIG is set'),
    });
  });

  it('archiving: ok with the last archived WAL, its age and the failed count; an idle server with nothing waiting is not behind', () => {
    expect(judged()).toMatchObject({
      status: 'ok',
      value: 0,
      threshold: 900,
      unit: 'seconds',
      message: 'last archived 00000001000000000000000A 30 s ago; 0 failed (pg_stat_archiver) since 2025-12-31T00:00:00.000Z; nothing waiting',
    });
    expect(judged({ now: new Date('2026-01-02T00:00:00Z') })).toMatchObject({ status: 'ok', value: 0 });
  });

  it('segments waiting past ALERT_ARCHIVE_LAG_MINUTES: critical, as a lag', () => {
    const late = judged({ pendingSegments: 3, now: new Date('2026-01-01T00:20:00Z') });
    expect(late).toMatchObject({ status: 'critical', value: 1200 });
    expect(late.message).toMatch(
      /^WAL archiving lags: 3 segments waiting, last archived 00000001000000000000000A 20 min ago \(ALERT_ARCHIVE_LAG_MINUTES is 15\)/,
    );
    expect(judged({ pendingSegments: 3, now: new Date('2026-01-01T00:10:00Z') })).toMatchObject({ status: 'ok', value: 600 });
  });

  it('a failing command: critical, naming it (secrets masked) and what it gets wrong; a later success clears it', () => {
    const failing = judged({
      archiveCommand: 'pgbackrest --repo1-cipher-pass=letmein --stanza=other archive-push %p',
      failedCount: 4,
      lastFailedWal: '00000001000000000000000B',
      lastFailedAt: new Date('2026-01-01T00:00:20Z'),
      pendingSegments: 1,
    });
    expect(failing.status).toBe('critical');
    expect(failing.message).toBe(
      'WAL archiving fails: archive_command "pgbackrest --repo1-cipher-pass=********" (it names stanza "other"; PGBACKREST_STANZA is "lookout") ' +
        'failed for 00000001000000000000000B 10 s ago; last archived 00000001000000000000000A 30 s ago; 4 failed (pg_stat_archiver) since 2025-12-31T00:00:00.000Z; ' +
        "1 segment waiting (the server log has the command's own error)",
    );
    expect(judged({ failedCount: 4, lastFailedAt: new Date('2025-12-31T23:00:00Z') }).status).toBe('ok');
    expect(commandHint('/bin/false', 'lookout')).toBe(' (it does not run pgbackrest)');
    expect(commandHint('pgbackrest --stanza=lookout archive-push %p', 'lookout')).toBe('');
  });

  it('archive_mode on with no command: critical (WAL piles up)', () => {
    expect(judged({ archiveCommand: '' })).toMatchObject({ status: 'critical', message: expect.stringMatching(/archive_command is empty/) });
  });

  it('alerts under wal_archiving', () => {
    expect(ruleFor('postgres.archiving')).toBe('wal_archiving');
  });
});

const info = (entry: Record<string, unknown>) => JSON.stringify([{ name: 'lookout', status: { code: 0, message: 'ok' }, ...entry }]);
const backup = (label: string, type: string, start: number, stop: number, error = false) => ({
  label,
  type,
  error,
  database: { id: 1 },
  timestamp: { start, stop },
  info: { size: 1000, delta: 1000, repository: { size: 300, delta: 200 } },
  archive: { start: null, stop: null },
});

describe('pgbackrest info, parsed', () => {
  it("lists the current database's good backups, oldest first, with the repository's bytes", () => {
    const parsed = parseRepositoryInfo(
      info({
        db: [{ id: 1, version: '15' }],
        archive: [{ id: '15-1', database: { id: 1 }, min: '000000010000000000000001', max: '000000010000000000000009' }],
        backup: [
          backup('20260102-010000F_20260103-010000D', 'diff', 1767402000, 1767402060),
          backup('20260102-010000F', 'full', 1767315600, 1767315700),
          backup('x', 'incr', 1, 2, true),
        ],
      }),
      'lookout',
    );
    expect(parsed.pgVersion).toBe('15');
    expect(parsed.archive).toEqual({ id: '15-1', max: '000000010000000000000009' });
    expect(parsed.backups.map((b) => [b.label, b.type, b.storedBytes, b.finishedAt.toISOString()])).toEqual([
      ['20260102-010000F', 'full', 200, '2026-01-02T01:01:40.000Z'],
      ['20260102-010000F_20260103-010000D', 'diff', 200, '2026-01-03T01:01:00.000Z'],
    ]);
  });

  it('a missing stanza says how to create it; another shape is refused', () => {
    expect(() => parseRepositoryInfo(info({ status: { code: 1, message: 'missing stanza path' } }), 'lookout')).toThrow(/stanza-create/);
    expect(() => parseRepositoryInfo(info({}), 'other')).toThrow(/stanza "other" is not in the pgBackRest repository/);
    expect(() => parseRepositoryInfo('{"not": "an array"}', 'lookout')).toThrow(/another shape/);
    expect(() => parseRepositoryInfo(info({ status: { code: 3, message: 'missing stanza data' } }), 'lookout')).toThrow(/stanza-create/);
  });

  it('no valid backups (2) lists none; every other status is an error naming pgBackRest\'s message, never "no backups"', () => {
    expect(parseRepositoryInfo(info({ status: { code: 2, message: 'no valid backups' } }), 'lookout').backups).toEqual([]);
    const repo = (key: number, code: number, message: string) => ({ key, cipher: 'aes-256-cbc', status: { code, message } });
    expect(
      parseRepositoryInfo(
        info({ status: { code: 0, message: 'ok (backup/expire running)' }, repo: [repo(1, 0, 'ok'), repo(2, 2, 'no valid backups')] }),
        'lookout',
      ).backups,
    ).toEqual([]);
    const denied = "[PathOpenError] unable to list file info for path '/var/lib/pgbackrest/archive': [13] Permission denied";
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { status: { code: 99, message: 'other' }, repo: [repo(1, 99, denied)] },
        /not readable: other \(code 99\); repo1: \[PathOpenError\].*Permission denied \(code 99\)/,
      ],
      [
        { status: { code: 4, message: 'different across repos' }, repo: [repo(1, 0, 'ok'), repo(2, 99, denied)] },
        /different across repos \(code 4\); repo2: .*Permission denied/,
      ],
      [{ status: { code: 5, message: 'database mismatch across repos' } }, /database mismatch across repos \(code 5\)/],
      [{ status: { code: 6, message: 'requested backup not found' } }, /requested backup not found/],
      [{ status: { code: 0, message: 'ok' }, repo: [repo(1, 0, 'ok'), repo(2, 99, denied)] }, /repo2: .*Permission denied/],
      [{ status: { code: 42, message: 'something new' } }, /something new \(code 42\)/],
    ];
    for (const [entry, message] of cases) {
      const backups = { db: [{ id: 1, version: '15' }], backup: [backup('20260102-010000F', 'full', 1767315600, 1767315700)] };
      expect(() => parseRepositoryInfo(info({ ...backups, ...entry }), 'lookout')).toThrow(message);
    }
  });

  it('output that is not JSON is an error carrying what pgbackrest said on stderr, scrubbed', () => {
    const stderr =
      'P00   INFO: info command begin 2.45: --output=json --repo1-cipher-pass=<redacted> --stanza=lookout\n' +
      "P00  ERROR: [029]: unable to load info file '/var/lib/pgbackrest/backup/lookout/backup.info': FormatError: key/value found outside of section at line 1: Sekrit-Hunter2\n";
    let err: Error | undefined;
    try {
      parseRepositoryInfo('\u0007garbage', 'lookout', stderr);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(PitrToolError);
    expect(err!.message).toMatch(
      /^pgbackrest info did not print JSON: .*\[029\]: unable to load info file .*FormatError: key\/value found outside of section at line 1: \*{8}$/,
    );
    expect(err!.message).not.toContain('Sekrit');
    expect(() => parseRepositoryInfo('not json', 'lookout')).toThrow(/did not print JSON: not json/);
  });
});

describe('pitr restore --pg-data: only characters restore_command can hold', () => {
  it('refuses a quote, a newline, a space, a shell character or % before anything is touched; the CLI says so (exit 1, refused)', async () => {
    for (const bad of ["/srv/o'brien/pitr", '/srv/pitr\ncopy', '/srv/pitr copy', '/srv/$(id)', '/srv/a;b', '/srv/50%', '/srv/a"b', '/srv/a`b', '/srv/a\\b']) {
      await expect(checkEmptyDir(bad), bad).rejects.toThrow(/holds .*restore_command/);
    }
    expect(() => checkCommandSafePath('the data directory', '/var/lib/postgresql/15/pitr-2026_11.30+copy@host:x~')).not.toThrow();
    expect(() => checkCommandSafePath('the data directory', '/srv/données/pitr')).not.toThrow();
    const res = await runCli(['pitr', 'restore', '--to', '2026-01-01T00:00:00Z', '--pg-data', "/nonexistent/o'brien", '--json'], {
      env: { PGBACKREST_CONFIG: '/nonexistent/pgbackrest.conf', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
    });
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({ status: 'refused', error: expect.stringContaining(`holds "'"`) });
  });
});

describe('pitr restore --pg-data: never through a symbolic link', () => {
  it('refuses a link (dangling or not) and a path through a linked directory, clearly; a real new or empty one is fine', async () => {
    const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'lookout-pgdata-')));
    try {
      const empty = path.join(root, 'empty');
      await mkdir(empty);
      expect(await checkEmptyDir(empty)).toBe(false);
      expect(await checkEmptyDir(path.join(root, 'new', 'data'))).toBe(true);
      await symlink(empty, path.join(root, 'link'));
      await expect(checkEmptyDir(path.join(root, 'link'))).rejects.toThrow(new RegExp(`^${root}/link is a symbolic link \\(to ${empty}\\)`));
      await expect(checkEmptyDir(path.join(root, 'link', 'data'))).rejects.toThrow(`goes through a symbolic link: ${root}/link is really ${empty}`);
      await symlink(path.join(root, 'nowhere'), path.join(root, 'dangling'));
      await expect(checkEmptyDir(path.join(root, 'dangling'))).rejects.toThrow(PitrRestoreRefused);
      await expect(checkEmptyDir(path.join(root, 'dangling'))).rejects.toThrow(/is a symbolic link \(to .*nowhere, which does not exist\)/);
      await expect(checkEmptyDir(path.join(root, 'dangling', 'data'))).rejects.toThrow(/cannot be resolved \(a dangling symbolic link\?\)/);
      // The CLI: a refusal (exit 1, status refused), no stack trace, nothing created where the link points.
      const res = await runCli(['pitr', 'restore', '--to', '2026-01-01T00:00:00Z', '--pg-data', path.join(root, 'dangling'), '--json'], {
        env: { PGBACKREST_CONFIG: path.join(root, 'pgbackrest.conf'), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
      });
      expect(res.code).toBe(1);
      expect(JSON.parse(res.stdout)).toMatchObject({ status: 'refused', error: expect.stringContaining('which does not exist') });
      expect(res.stderr).not.toMatch(/ENOENT|EEXIST|\n\s+at /);
      expect(existsSync(path.join(root, 'nowhere'))).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('times', () => {
  it('as pgBackRest --target takes them, as Postgres logs them, and --to', () => {
    expect(targetText(new Date('2026-05-01T12:30:00.250Z'))).toBe('2026-05-01 12:30:00.250+00');
    expect(parseLogTime('2026-11-30 06:33:43.981966+00')?.toISOString()).toBe('2026-11-30T06:33:43.981Z');
    expect(lastTransactionTime('LOG:  redo done\nLOG:  last completed transaction was at log time 2026-11-30 06:33:43.5+00\n')?.toISOString()).toBe(
      '2026-11-30T06:33:43.500Z',
    );
    expect(parseIsoTime('2026-05-01T14:30:00+02:00').toISOString()).toBe('2026-05-01T12:30:00.000Z');
    expect(() => parseIsoTime('2026-05-01T14:30:00')).toThrow(/with its zone/);
    expect(() => parseIsoTime('yesterday')).toThrow(/with its zone/);
    expect(parseIsoTime('2028-02-29T23:59:59.5-01:30').toISOString()).toBe('2028-03-01T01:29:59.500Z');
    expect(parseIsoTime('2026-11-30 07:54Z').toISOString()).toBe('2026-11-30T07:54:00.000Z');
  });

  it('--to must read back as written: no Feb 30, 24:00, minute or second 60, nor a zone past 23:59 (the CLI exits 2)', async () => {
    for (const bad of [
      '2026-02-30T07:54:45Z',
      '2026-02-29T00:00:00Z',
      '2026-11-30T24:00:00Z',
      '2026-04-31T10:00:00Z',
      '2026-11-30T23:60:00Z',
      '2026-11-30T23:59:60Z',
      '2026-11-30T10:00:00+24:00',
      '2026-13-01T10:00:00Z',
      '2026-11-30T10:00:00+01:60',
    ]) {
      expect(() => parseIsoTime(bad), bad).toThrow(/not a time that exists|with its zone/);
    }
    const res = await runCli(['pitr', 'restore', '--to', '2026-02-30T07:54:45Z', '--pg-data', '/nonexistent/lookout-pgdata'], {
      env: { PGBACKREST_CONFIG: '/nonexistent/pgbackrest.conf', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('2026-02-30T07:54:45Z is not a time that exists');
  });
});

describe('integer options', () => {
  it('are decimal digits only: 5e3, 0x10, 1.0, +5, " 5" are refused, not read as numbers; --port 5e3 exits 2', async () => {
    expect(parsePositiveInt('5000')).toBe(5000);
    expect(parseNonNegativeInt('0')).toBe(0);
    for (const bad of ['5e3', '0x10', '1.0', '+5', ' 5', '5 ', '', '0b1', '1_000', '-1', '99999999999999999999']) {
      expect(() => parsePositiveInt(bad), bad).toThrow(/in decimal digits/);
      expect(() => parseNonNegativeInt(bad), bad).toThrow(/in decimal digits/);
    }
    expect(() => parsePositiveInt('0')).toThrow(/>= 1/);
    const res = await runCli(['pitr', 'restore', '--to', '2026-01-01T00:00:00Z', '--pg-data', '/nonexistent/lookout-pgdata', '--port', '5e3'], {
      env: { PGBACKREST_CONFIG: '/nonexistent/pgbackrest.conf', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("option '--port <n>' argument '5e3' is invalid");
  });
});

describe('settings and processes', () => {
  it("reads pgBackRest's own variables; pitr is off without PGBACKREST_CONFIG", () => {
    const off = loadConfig({});
    expect(off.pitr).toMatchObject({ configFile: undefined, stanza: 'lookout', fullCron: '0 1 * * 0', diffCron: '0 1 * * 1-6', drillCron: '0 6 * * 0' });
    expect(off.alerts.archiveLagMinutes).toBe(15);
    const on = loadConfig({ PGBACKREST_CONFIG: '/etc/pgbackrest/pgbackrest.conf', PGBACKREST_STANZA: 'main', ALERT_ARCHIVE_LAG_MINUTES: '5' });
    expect(on.pitr).toMatchObject({ configFile: '/etc/pgbackrest/pgbackrest.conf', stanza: 'main' });
    expect(on.alerts.archiveLagMinutes).toBe(5);
    expect(() => loadConfig({ PGBACKREST_CONFIG: 'relative.conf' })).toThrow(/PGBACKREST_CONFIG: expected the absolute path/);
  });

  it('the pitr queue is never part of lookout all (or a bare lookout worker) unless PGBACKREST_CONFIG is set', () => {
    expect(OPS_QUEUES).not.toContain('pitr');
    expect(opsQueuesFor(loadConfig({}))).not.toContain('pitr');
    expect(defaultWorkerQueues(loadConfig({}))).not.toContain('pitr');
    const on = loadConfig({ PGBACKREST_CONFIG: '/etc/pgbackrest/pgbackrest.conf' });
    expect(opsQueuesFor(on)).toContain('pitr');
    expect(defaultWorkerQueues(on)).toContain('pitr');
  });

  it('lookout worker --queues pitr without PGBACKREST_CONFIG refuses to start (exit 2), naming the variable', async () => {
    const res = await runCli(['worker', '--queues', 'pitr'], { env: { PGBACKREST_CONFIG: '', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^lookout: the pitr queue needs PGBACKREST_CONFIG/m);
  });

  it('a pitr row of the catalogue: shown with its kind, label and type; backup verify and restore refuse it, pointing at pitr restore', () => {
    const row = {
      id: '00000000-0000-4000-8000-000000000001',
      kind: 'pitr',
      status: 'succeeded',
      trigger: 'manual',
      file: null,
      label: '20260101-010000F',
      backupType: 'full',
    };
    expect(backupSummary(row as unknown as BackupRecord)).toMatchObject({ kind: 'pitr', label: '20260101-010000F', type: 'full', file: null });
    expect(() => checkRestorable(row as unknown as BackupRecord, loadConfig({ BACKUP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') }).backup)).toThrow(
      BackupUnusableError,
    );
    expect(() => checkRestorable(row as unknown as BackupRecord, loadConfig({}).backup)).toThrow(/lookout pitr restore/);
  });
});
