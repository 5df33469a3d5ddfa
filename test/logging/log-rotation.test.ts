// LOG_FILE: a server process's log goes to a file that pino-roll rotates by
// LOG_ROTATE_SIZE and/or LOG_ROTATE_FREQUENCY, keeping at most LOG_ROTATE_KEEP
// files (the one being written included), earlier processes' files counted too.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/cli-error.js';
import { serviceLogger } from '../../src/cli/command-logger.js';
import type { ConfigError } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { childLogFile } from '../../src/workers/supervisor.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-log-rotation-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type TransportStream = NodeJS.WritableStream & { once(event: 'ready' | 'close', cb: () => void): void };
const transportOf = (logger: Logger) => (logger as unknown as Record<symbol, TransportStream>)[pino.symbols.streamSym]!;

/** Waits for the logger's transport thread to be up: lines written before arrive in one piece, and pino-roll rotates between writes. */
const transportReady = (logger: Logger) => new Promise<void>((resolve) => transportOf(logger).once('ready', resolve));

/** Ends the logger's transport and waits until its thread has written everything and closed the file. */
async function closeLogger(logger: Logger): Promise<void> {
  const stream = transportOf(logger);
  await new Promise<void>((resolve) => {
    stream.once('close', resolve);
    stream.end();
  });
}

/** The log files of the folder, oldest first: lookout.<n>.log. */
async function logFiles(): Promise<string[]> {
  const number = (f: string) => Number(/\.(\d+)\.log$/.exec(f)?.[1]);
  return (await readdir(dir)).filter((f) => /^lookout\.\d+\.log$/.test(f)).sort((a, b) => number(a) - number(b));
}

/** Writes `lines` lines of about 200 bytes, a few at a time, as a busy process would. */
async function writeLines(logger: Logger, lines: number, from = 0): Promise<void> {
  for (let i = from; i < from + lines; i++) {
    logger.info({ i, filler: 'x'.repeat(120) }, 'a line of the log');
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
  }
}

describe('LOG_FILE', () => {
  it('rotates at LOG_ROTATE_SIZE and keeps at most LOG_ROTATE_KEEP files, the newest lines in the newest file', async () => {
    const config = loadConfig({ LOG_FILE: path.join(dir, 'lookout.log'), LOG_ROTATE_SIZE: '2k', LOG_ROTATE_KEEP: '3', LOG_FORMAT: 'pretty' });
    expect(config.log.file).toEqual({ path: path.join(dir, 'lookout.log'), size: '2k', frequency: undefined, keep: 3 });
    const logger = serviceLogger(config);
    await transportReady(logger);
    const seen = new Set<number>();
    for (let round = 0; round < 10; round++) {
      await writeLines(logger, 20, round * 20); // 200 lines in all, about 40 KiB: some 20 files' worth
      await new Promise((r) => setTimeout(r, 20));
      for (const f of await logFiles()) seen.add(Number(/\.(\d+)\.log$/.exec(f)![1]));
      expect((await logFiles()).length).toBeLessThanOrEqual(3);
    }
    await closeLogger(logger);

    const files = await logFiles();
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThanOrEqual(3);
    // Rotated many times: the oldest files were removed, not the newest.
    expect(seen.size).toBeGreaterThan(10);
    expect(Number(/\.(\d+)\.log$/.exec(files.at(-1)!)![1])).toBe(Math.max(...seen));
    const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
    // JSON lines whatever LOG_FORMAT says; the last one written is the last of the newest file with lines (a file just rotated to may be empty).
    const newest = texts
      .filter((t) => t.trim())
      .at(-1)!
      .trim()
      .split('\n');
    expect(JSON.parse(newest.at(-1)!)).toMatchObject({ i: 199, msg: 'a line of the log' });
    for (const text of texts) {
      expect(text.length).toBeLessThan(2048 + 400);
      for (const line of text.trim().split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    }
  });

  it('counts the files an earlier process left: a restart does not pile them up', async () => {
    for (let n = 1; n <= 5; n++) await writeFile(path.join(dir, `lookout.${n}.log`), '{"old":true}\n');
    const logger = serviceLogger(loadConfig({ LOG_FILE: path.join(dir, 'lookout.log'), LOG_ROTATE_SIZE: '1k', LOG_ROTATE_KEEP: '2' }));
    await transportReady(logger);
    await writeLines(logger, 30);
    await closeLogger(logger);
    const files = await logFiles();
    expect(files.length).toBeLessThanOrEqual(2);
    expect(files.every((f) => Number(/\.(\d+)\.log$/.exec(f)![1]) > 5)).toBe(true);
  });

  it('rotates daily by default, and refuses rotation settings without a file', () => {
    expect(loadConfig({ LOG_FILE: 'logs/lookout.log' }).log.file).toEqual({
      path: path.resolve('logs/lookout.log'),
      size: undefined,
      frequency: 'daily',
      keep: 7,
    });
    expect(loadConfig({ LOG_FILE: '/l/x.log', LOG_ROTATE_FREQUENCY: 'Hourly', LOG_ROTATE_SIZE: '10m' }).log.file).toMatchObject({
      size: '10m',
      frequency: 'hourly',
    });
    expect(loadConfig({ LOG_FILE: '/l/x.log', LOG_ROTATE_FREQUENCY: '60000' }).log.file).toMatchObject({ frequency: 60_000 });
    expect(loadConfig({}).log.file).toBeUndefined();
    const problem = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems.map((p) => p.variable).join(',');
      }
      return 'none';
    };
    expect(problem({ LOG_ROTATE_SIZE: '10m' })).toBe('LOG_ROTATE_SIZE');
    expect(problem({ LOG_ROTATE_FREQUENCY: 'daily' })).toBe('LOG_ROTATE_FREQUENCY');
    expect(problem({ LOG_FILE: '/l/x.log', LOG_ROTATE_SIZE: 'ten' })).toBe('LOG_ROTATE_SIZE');
    expect(problem({ LOG_FILE: '/l/x.log', LOG_ROTATE_SIZE: '0' })).toBe('LOG_ROTATE_SIZE');
    expect(problem({ LOG_FILE: '/l/x.log', LOG_ROTATE_FREQUENCY: 'weekly' })).toBe('LOG_ROTATE_FREQUENCY');
    expect(problem({ LOG_FILE: '/l/x.log', LOG_ROTATE_FREQUENCY: '10' })).toBe('LOG_ROTATE_FREQUENCY');
    expect(problem({ LOG_FILE: '/l/x.log', LOG_ROTATE_KEEP: '1' })).toBe('LOG_ROTATE_KEEP');
  });

  it('refuses a LOG_FILE that cannot be written at start, naming it, instead of logging nowhere', async () => {
    await writeFile(path.join(dir, 'a-file'), 'not a folder');
    const file = path.join(dir, 'a-file', 'lookout.log');
    expect(() => serviceLogger(loadConfig({ LOG_FILE: file }))).toThrow(new CliError(`LOG_FILE ${file}: cannot write to ${path.join(dir, 'a-file')} (EEXIST)`));
    // A folder that does not exist yet is made.
    const logger = serviceLogger(loadConfig({ LOG_FILE: path.join(dir, 'new', 'deeper', 'lookout.log') }));
    await transportReady(logger);
    logger.info('hello');
    await closeLogger(logger);
    expect(await readFile(path.join(dir, 'new', 'deeper', 'lookout.1.log'), 'utf8')).toContain('"msg":"hello"');
  });

  it("gives each of a fleet's workers a file of its own: one process rotates one set of files", () => {
    expect(childLogFile('/var/log/lookout/lookout.log', 'detect-cpu-0')).toBe('/var/log/lookout/lookout.detect-cpu-0.log');
    expect(childLogFile('/var/log/lookout/lookout', 'ops-0')).toBe('/var/log/lookout/lookout.ops-0');
  });
});
