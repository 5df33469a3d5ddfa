// `lookout detect` as a user runs it: the built executable, real photos, the
// exact JSON-lines contract, exit codes and annotated output.
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/run-cli.js';
import { ALL_PHOTOS, EXPECTED_FACES, photoPath, PHOTOS_DIR } from '../helpers/photos.js';

describe('lookout detect', () => {
  it('prints one JSON line per file, in order, with the contract shape', async () => {
    const { code, stdout, stderr } = await runCli(['detect', ...ALL_PHOTOS], { cwd: PHOTOS_DIR });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = jsonLines(stdout);
    expect(lines.map((l) => l.file)).toEqual(ALL_PHOTOS); // path as given
    const faces = Object.fromEntries(lines.map((l) => [l.file, l.detections.length]));
    expect(faces).toEqual(EXPECTED_FACES);
    const astronaut = lines[0]!;
    expect(Object.keys(astronaut)).toEqual(['file', 'width', 'height', 'model', 'detections']);
    expect(astronaut.model).toEqual({
      name: 'blazeface-back',
      version: '1.2.0',
      sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2',
    });
    const face = astronaut.detections[0];
    expect(Object.keys(face)).toEqual(['label', 'score', 'box', 'keypoints']);
    expect(face.label).toBe('face');
    expect(Object.keys(face.box)).toEqual(['x1', 'y1', 'x2', 'y2']);
    expect(face.keypoints).toHaveLength(6);
  });

  it('reports each failing file as an error line and exits 1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-cli-'));
    const text = path.join(dir, 'notes.jpg'); // the name lies: content decides
    await writeFile(text, 'not an image');
    const empty = path.join(dir, 'empty.png');
    await writeFile(empty, '');
    const missing = path.join(dir, 'missing.png');
    const { code, stdout } = await runCli(['detect', photoPath('astronaut.png'), text, empty, missing]);
    expect(code).toBe(1);
    const lines = jsonLines(stdout);
    expect(lines).toHaveLength(4);
    expect(lines[0]?.detections).toHaveLength(1);
    expect(lines.slice(1)).toEqual([
      { file: text, error: { code: 'unsupported_format', message: expect.stringMatching(/plain text/) } },
      { file: empty, error: { code: 'empty_input', message: expect.any(String) } },
      { file: missing, error: { code: 'file_not_found', message: expect.any(String) } },
    ]);
  });

  it('--model, --min-score and --annotate', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-annotate-'));
    const { code, stdout } = await runCli([
      'detect',
      '--model',
      'blazeface-front',
      '--min-score',
      '0.5',
      '--annotate',
      dir,
      photoPath('astronaut.png'),
      photoPath('rocket.jpg'),
    ]);
    expect(code).toBe(0);
    const [astronaut] = jsonLines(stdout);
    expect(astronaut?.model.name).toBe('blazeface-front');
    expect((await readdir(dir)).sort()).toEqual(['astronaut.png', 'rocket.png']);
    const annotated = sharp(path.join(dir, 'astronaut.png'));
    const meta = await annotated.metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 512]);
    // The box outline is drawn in the palette's first colour (#00e676) at the box edge.
    const { data, info } = await annotated.raw().toBuffer({ resolveWithObject: true });
    const box = astronaut!.detections[0].box;
    const x = Math.round((box.x1 + box.x2) / 2);
    const y = Math.round(box.y2);
    const at = (y * info.width + x) * info.channels;
    expect([data[at], data[at + 1], data[at + 2]]).toEqual([0x00, 0xe6, 0x76]);
  });

  it.each([
    [['detect', '--min-score', '1.5', 'x.png'], /--min-score.*'1\.5'.*expected a decimal number from 0 to 1/],
    // One grammar for every minScore (src/text/min-score.ts): Number() would read these as 1, 0.1 and Infinity.
    [['detect', '--min-score', '0x1', 'x.png'], /--min-score.*'0x1'.*expected a decimal number from 0 to 1/],
    [['detect', '--min-score', '1e-1', 'x.png'], /--min-score.*'1e-1'.*expected a decimal number from 0 to 1/],
    [['detect', '--min-score', 'Infinity', 'x.png'], /--min-score.*'Infinity'.*expected a decimal number from 0 to 1/],
    [['detect', '--device', 'gpu', 'x.png'], /expected "cpu" or "cuda:N"/],
    [['detect', '--model', 'nope', 'x.png'], /unknown_model: unknown model "nope"; known models: blazeface-back, blazeface-front/],
    [['detect', '--device', 'cuda:0', 'x.png'], /device_unavailable: device cuda:0 is not available/],
  ])('usage errors exit 2 with a clear message: %j', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
  });
});
