// `lookout submit` as a user runs it: the built executable, as a child
// process, against a real API and detect worker (real Redis, Postgres, model
// and photos). The upload is split by the server's limits, results come back
// as JSON lines or a summary table, progress bars appear only on a terminal,
// and the exit codes hold. The client is given unusable DATABASE_URL and
// REDIS_URL: it must need neither.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { baseRequestBytes, filePartBytes, newBoundary } from '../../src/cli/submit-multipart-stream.js';
import { ALL_PHOTOS, EXPECTED_FACES, photoPath } from '../helpers/photos.js';
import { jsonLines, REPO_ROOT, runCli, type CliResult } from '../helpers/run-cli.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let key: string;
let tmp: string;
/** album/notes.txt and album/nested/<the six photos>. */
let album: string;
let notes: string;

/** The photos as the walk finds them: byte-wise sorted, under album/nested. */
const walked = () => [...ALL_PHOTOS].sort().map((name) => path.join(album, 'nested', name));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NOTES_SKIP = () => `skipped ${notes}: not an image (looks like plain text)`;

function clientEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return { LOOKOUT_URL: url, LOOKOUT_API_KEY: key, DATABASE_URL: 'unusable', REDIS_URL: 'unusable', ...overrides };
}

const submitCli = (args: string[], overrides: Record<string, string> = {}, cwd?: string) =>
  runCli(['submit', ...args], { env: clientEnv(overrides), ...(cwd ? { cwd } : {}) });

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a pseudo-terminal through util-linux script(1): stdout and
 * stderr arrive merged. `interruptWhen` types Ctrl-C (the terminal turns it
 * into SIGINT) once the output so far satisfies it.
 */
function runOnTerminal(
  args: string[],
  options: { overrides?: Record<string, string>; interruptWhen?: (output: string) => boolean } = {},
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, path.join(REPO_ROOT, 'bin', 'lookout.js'), ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/script', ['-qfec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...clientEnv(options.overrides), TERM: 'xterm', COLUMNS: '80' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let interrupted = false;
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!interrupted && options.interruptWhen?.(output)) {
        interrupted = true;
        child.stdin.write('\x03');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const facesByName = (lines: Array<Record<string, any>>) => Object.fromEntries(lines.map((l) => [path.basename(l.file), l.detections.length]));

function expectNoTerminalCodes(result: CliResult): void {
  for (const text of [result.stdout, result.stderr]) {
    expect(text).not.toMatch(/\x1b/); // eslint-disable-line no-control-regex
    expect(text).not.toMatch(/[\u2588\u2591]/);
    expect(text).not.toContain('\r');
  }
}

beforeAll(async () => {
  env = await createTestEnv('submit_cli');
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  key = await env.key(services, 'submitter');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-submit-'));
  album = path.join(tmp, 'album');
  await mkdir(path.join(album, 'nested'), { recursive: true });
  for (const name of ALL_PHOTOS) await copyFile(photoPath(name), path.join(album, 'nested', name));
  notes = path.join(album, 'notes.txt');
  await writeFile(notes, 'shot list: astronaut, camera, coffee\n');
});
afterAll(async () => {
  await env.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

describe('lookout submit', () => {
  it('--wait --json: one line per photo with its batch and image ids and the right counts; the text file skipped', async () => {
    const result = await submitCli([album, '--wait', '--json']);
    expect(result.stderr).toBe(`${NOTES_SKIP()}\n`);
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(6);
    expect(lines.map((l) => l.file)).toEqual(walked());
    expect(facesByName(lines)).toEqual(EXPECTED_FACES);
    expect(new Set(lines.map((l) => l.batchId)).size).toBe(1); // six files fit one request
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(['file', 'batchId', 'imageId', 'width', 'height', 'model', 'detections']);
      expect(line.batchId).toMatch(UUID);
      expect(line.imageId).toMatch(UUID);
      expect(line.model).toEqual({
        name: 'blazeface-back',
        version: expect.any(String),
        sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2',
      });
    }
    const astronaut = lines[0]!;
    expect([astronaut.width, astronaut.height]).toEqual([512, 512]);
    expect(astronaut.detections[0]).toMatchObject({ label: 'face', box: { x1: expect.any(Number), y2: expect.any(Number) } });
    const rows = await env.sql<{ filename: string; status: string }>('SELECT filename, status FROM images WHERE batch_id = $1 ORDER BY position', [
      astronaut.batchId,
    ]);
    expect(rows.map((r) => r.filename)).toEqual([...ALL_PHOTOS].sort());
    expect(rows.every((r) => r.status === 'done')).toBe(true);
  });

  it('--wait with stderr piped: no progress bar, a summary table with every file, the totals and the skip', async () => {
    // Relative paths, as a user types them, keep the rows short.
    const result = await submitCli(['album', '--wait'], {}, tmp);
    expect(result.code).toBe(0);
    expectNoTerminalCodes(result);
    expect(result.stderr).toBe('skipped album/notes.txt: not an image (looks like plain text)\n');
    const out = result.stdout.split('\n');
    expect(out[0]).toMatch(/^file +status +found +labels$/);
    for (const file of walked().map((f) => path.relative(tmp, f))) {
      const row = out.find((l) => l.startsWith(file));
      const faces = EXPECTED_FACES[path.basename(file)]!;
      expect(row).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +done +${faces}${faces ? ' +face×1' : ''}$`));
    }
    expect(out).toContain('6 images: 6 done, 0 failed; 2 objects found; 1 skipped');
    expect(out.filter((l) => /^batch [0-9a-f-]{36}: completed$/.test(l))).toHaveLength(1);
    expect(result.stdout).toContain('skipped:\n  album/notes.txt: not an image (looks like plain text)\n');
    expect(Math.max(...out.map((l) => l.length))).toBeLessThanOrEqual(80);
  });

  it('on a terminal: upload and detect progress bars, then the summary', async () => {
    const { code, output } = await runOnTerminal(['submit', album, '--wait']);
    expect(code).toBe(0);
    expect(output).toMatch(/upload \[[\u2588\u2591]{30}\]/);
    expect(output).toMatch(/detect \[[\u2588\u2591]{30}\] +100% \| 6\/6 images/);
    expect(output).toMatch(/upload \[\u2588{30}\] +100% \| .* · 6\/6 files/);
    expect(output).toContain('\x1b['); // cursor control: drawn for a terminal
    expect(output).toContain(NOTES_SKIP());
    expect(output).toContain('6 images: 6 done, 0 failed; 2 objects found; 1 skipped');
  });

  it("splits the upload by the server's UPLOAD_MAX_FILES: 6 photos as 4 + 2, every result back", async () => {
    const limited = await env.open((c) => ({ ...c, upload: { ...c.upload, maxFiles: 4 } }));
    const api = await env.api(limited);
    const info = (await (await fetch(`${api.url}/v1/info`, { headers: { authorization: `Bearer ${key}` } })).json()) as any;
    expect(info.limits.maxFiles).toBe(4);
    const result = await submitCli([album, '--wait', '--json'], { LOOKOUT_URL: api.url });
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines.map((l) => l.file)).toEqual(walked());
    expect(facesByName(lines)).toEqual(EXPECTED_FACES);
    const batchIds = [...new Set(lines.map((l) => l.batchId))];
    expect(batchIds).toHaveLength(2);
    expect(lines.map((l) => batchIds.indexOf(l.batchId))).toEqual([0, 0, 0, 0, 1, 1]);
    const sizes = await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM images WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id ORDER BY n DESC', [
      batchIds,
    ]);
    expect(sizes.map((s) => s.n)).toEqual([4, 2]);
  });

  it("skips, before sending, what the server's byte limits would refuse; a request exactly at the limit goes", async () => {
    // The request limit is the exact body of camera.png + chelsea.png (part
    // headers and closing boundary included): the server must take it whole.
    const boundary = newBoundary(); // every boundary has the same length
    const part = (name: string, bytes: number) => filePartBytes(boundary, { file: name, filename: name, bytes, format: 'png' });
    const exact = baseRequestBytes(boundary, {}) + part('camera.png', 139_512) + part('chelsea.png', 240_512);
    const limited = await env.open((c) => ({ ...c, limits: { ...c.limits, maxBytes: 700_000 }, upload: { ...c.upload, maxRequestBytes: exact } }));
    const api = await env.api(limited);
    const result = await submitCli(['album', '--wait', '--json'], { LOOKOUT_URL: api.url }, tmp);
    expect(result.code).toBe(0);
    const over = (file: string, bytes: number) =>
      `skipped album/nested/${file}: ${bytes} bytes with the form around them are over the server's request limit of ${exact} bytes`;
    expect(result.stderr.split('\n')).toEqual([
      "skipped album/nested/astronaut.png: 773.0 KiB is over the server's per-file limit of 683.6 KiB", // 791,555 bytes
      'skipped album/notes.txt: not an image (looks like plain text)',
      over('coffee.png', 466_706),
      over('motorcycle_left.png', 644_701),
      '',
    ]);
    const lines = jsonLines(result.stdout);
    expect(lines.map((l) => path.basename(l.file))).toEqual(['camera.png', 'chelsea.png', 'rocket.jpg']);
    expect(lines.map((l) => l.detections.length)).toEqual([1, 0, 0]);
    const batchIds = [...new Set(lines.map((l) => l.batchId))];
    expect(lines.map((l) => batchIds.indexOf(l.batchId))).toEqual([0, 0, 1]);
  });

  it('--annotate DIR downloads one PNG per photo, of the photo size', async () => {
    const out = path.join(tmp, 'annotated');
    const result = await submitCli([album, '--annotate', out, '--json']);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)).toHaveLength(6); // --annotate implies --wait: results, not queued lines
    expect(jsonLines(result.stdout).every((l) => Array.isArray(l.detections))).toBe(true);
    const names = ALL_PHOTOS.map((n) => `${path.basename(n, path.extname(n))}.png`).sort();
    expect((await readdir(out)).sort()).toEqual(names);
    for (const photo of ALL_PHOTOS) {
      const meta = await sharp(path.join(out, `${path.basename(photo, path.extname(photo))}.png`)).metadata();
      const original = await sharp(photoPath(photo)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', original.width, original.height]);
    }
  });

  it('an image that fails detection: its row, its reason, exit status 1', async () => {
    const dir = path.join(tmp, 'mixed');
    await mkdir(dir);
    await copyFile(photoPath('camera.png'), path.join(dir, 'camera.png'));
    const png = await readFile(photoPath('coffee.png'));
    await writeFile(path.join(dir, 'broken.png'), png.subarray(0, Math.floor(png.length / 3))); // a PNG to the client, corrupt to the model
    const result = await submitCli(['mixed', '--wait'], {}, tmp);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    const out = result.stdout.split('\n');
    expect(out).toContain('mixed/broken.png  failed      -');
    expect(out).toContain('mixed/camera.png  done        1  face×1');
    expect(out).toContain('2 images: 1 done, 1 failed; 1 object found');
    expect(out.filter((l) => /^batch [0-9a-f-]{36}: completed_with_errors$/.test(l))).toHaveLength(1);
    expect(result.stdout).toMatch(/\nfailed:\n {2}mixed\/broken\.png: corrupt_image: .+\n/);
  });

  it('without --wait: the batch id and how to check it; --json lines say queued; hidden files skipped', async () => {
    const dir = path.join(tmp, 'one');
    await mkdir(dir);
    await copyFile(photoPath('camera.png'), path.join(dir, 'camera.png'));
    await copyFile(photoPath('camera.png'), path.join(dir, '.camera-copy.png'));
    const human = await submitCli([dir]);
    expect(human.code).toBe(0);
    expect(human.stderr).toBe(`skipped 1 hidden entry (names starting with "."): ${path.join(dir, '.camera-copy.png')}\n`);
    const id = /^ {2}([0-9a-f-]{36}) {2}1 image$/m.exec(human.stdout)?.[1];
    expect(id).toMatch(UUID);
    expect(human.stdout).toMatch(/^submitted 1 image in 1 batch:$/m);
    expect(human.stdout).toContain(`GET ${url}/v1/batches/${id}\n`);

    // A name that is not plain ASCII and has a quote reaches the server intact.
    const odd = path.join(tmp, 'cámara "2".png');
    await copyFile(photoPath('camera.png'), odd);
    const json = await submitCli([path.join(dir, 'camera.png'), odd, '--json']);
    expect(json.code).toBe(0);
    const lines = jsonLines(json.stdout);
    const queued = (file: string) => ({ file, batchId: expect.stringMatching(UUID), imageId: expect.stringMatching(UUID), status: 'queued', detections: null });
    expect(lines).toEqual([queued(path.join(dir, 'camera.png')), queued(odd)]);
    const rows = await env.sql<{ filename: string }>('SELECT filename FROM images WHERE batch_id = $1 ORDER BY position', [lines[0]!.batchId]);
    expect(rows.map((r) => r.filename)).toEqual(['camera.png', 'cámara "2".png']);
  });

  it('names in any script are stored as they are on disk: NFC and NFD, CJK, emoji, right-to-left, quotes, a literal %25', async () => {
    const dir = path.join(tmp, 'names');
    await mkdir(dir);
    // Non-ASCII names travel as filename* (RFC 5987), ASCII ones as a quoted filename.
    const names = [
      'caf\u00e9.png',
      'cafe\u0301 nfd.png',
      '猫の写真.png',
      '😀 party 🎉.png',
      '👩‍👩‍👧.png',
      'صورة العائلة.png',
      'say "cheese".png',
      '100%25 done.png',
      "it's (1) *.png",
      'literal %22 and %0A.png',
      'caf\u00e9 100%22.png',
      'back\\slash.png',
    ];
    for (const name of names) await copyFile(photoPath('camera.png'), path.join(dir, name));
    const result = await submitCli([...names.map((n) => path.join(dir, n)), '--json']);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines.map((l) => l.file)).toEqual(names.map((n) => path.join(dir, n)));
    const rows = await env.sql<{ filename: string }>('SELECT filename FROM images WHERE batch_id = $1 ORDER BY position', [lines[0]!.batchId]);
    expect(rows.map((r) => r.filename)).toEqual(names);
  });

  it('a missing PATH is reported; with nothing else to upload the exit status is 2, beside an image 1', async () => {
    const missing = path.join(tmp, 'no-such-folder');
    const alone = await submitCli([missing]);
    expect(alone.code).toBe(2);
    expect(alone.stdout).toBe('');
    expect(alone.stderr).toBe(`lookout submit: no such file or directory: ${missing}\nlookout submit: nothing to upload: no image found in ${missing}\n`);

    const beside = await submitCli([missing, photoPath('rocket.jpg'), '--json']);
    expect(beside.code).toBe(1);
    expect(beside.stderr).toBe(`lookout submit: no such file or directory: ${missing}\n`);
    expect(jsonLines(beside.stdout).map((l) => l.file)).toEqual([photoPath('rocket.jpg')]);
  });

  it.each([
    [
      'a bad key',
      [],
      { LOOKOUT_API_KEY: 'lk_00000000_nope' },
      /^lookout submit: unauthorized: invalid, revoked or expired API key \(LOOKOUT_API_KEY, at http:\/\/127\.0\.0\.1:\d+\)\n$/,
    ],
    ['no key', [], { LOOKOUT_API_KEY: '' }, /^lookout submit: LOOKOUT_API_KEY is empty/],
    ['a bad LOOKOUT_URL', [], { LOOKOUT_URL: 'ftp://example' }, /^lookout submit: LOOKOUT_URL expected an http:\/\/ or https:\/\/ URL/],
    ['--min-score 7', ['--min-score', '7'], {}, /--min-score.*'7'.*expected a decimal number from 0 to 1/],
    ['--min-score 0x1', ['--min-score', '0x1'], {}, /--min-score.*'0x1'.*expected a decimal number from 0 to 1/],
    ['an unknown model', ['--model', 'nope'], {}, /^lookout submit: unknown_model: unknown model "nope"; the server knows: blazeface-back, blazeface-front/],
  ])('exits 2 with a clear message for %s', async (_what, args, overrides, message) => {
    const result = await submitCli([album, ...args], overrides);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });

  it('a refused upload (a viewer key) exits 2 naming the files not submitted', async () => {
    const viewer = await env.key(services, 'viewer');
    const result = await submitCli([path.join(album, 'nested')], { LOOKOUT_API_KEY: viewer });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'lookout submit: forbidden: this needs the submitter role\n' +
        `lookout submit: the upload failed, so none of its 6 files was submitted: ${walked().join(', ')}\n`,
    );
  });

  it('an unreachable server exits 1 saying where it looked', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const result = await submitCli([album], { LOOKOUT_URL: `http://127.0.0.1:${closed}` });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lookout submit: cannot reach http://127.0.0.1:${closed} (ECONNREFUSED); is LOOKOUT_URL right?\n`);
  });

  // Last: it stops the worker, so the batch stays queued while the client waits.
  it('Ctrl-C while waiting: the bars stop, the terminal is given back, the submitted batch is named; exit 130', async () => {
    await env.closeWorkers();
    const { code, output } = await runOnTerminal(['submit', path.join(album, 'nested'), '--wait'], {
      interruptWhen: (text) => text.includes('detect ['),
    });
    expect(code).toBe(130);
    const [, afterBars] = output.split('detect [');
    expect(afterBars).toContain('\x1b[?25h'); // cursor shown again
    expect(afterBars).toContain('\x1b[?7h'); // line wrapping back on
    const id = /lookout submit: interrupted; already submitted \(they keep running on the server\): ([0-9a-f-]{36}) \(6 images\)/.exec(output)?.[1];
    expect(id).toMatch(UUID);
    expect(await env.sql('SELECT status FROM batches WHERE id = $1', [id])).toEqual([{ status: 'queued' }]);
  });
});
