// YOLOv8n (fetched on purpose by `lookout models fetch`; .ci/run does it) on
// real photos from Debian's darknet package and skimage.
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createDetector, DEFAULT_IMAGE_LIMITS, DetectionError, ModelRegistry, type Box, type Detector } from '../../src/detection/index.js';
import { yolov8nSpec } from '../../src/detection/model-registry.js';
import { iou } from '../helpers/boxes.js';
import { photoPath, readPhoto } from '../helpers/photos.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';

const modelsDir = loadConfig().modelsDir;
const darknet = (name: string) => photoPath(path.join('darknet', name));

let detector: Detector;
beforeAll(async () => {
  detector = await createDetector({
    spec: new ModelRegistry({ modelsDir }).get('yolov8n'),
    device: { kind: 'cpu' },
    allowCpuFallback: false,
    limits: DEFAULT_IMAGE_LIMITS,
    logger: pino({ level: 'silent' }),
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n(yolov8n must be fetched first: npx lookout models fetch yolov8n --accept-license agpl-3.0)`);
  });
});
afterAll(() => detector.close());

// Regions marked by hand on the photos (original pixels).
const REGIONS: Record<string, Record<string, Box>> = {
  'dog.jpg': { dog: { x1: 125, y1: 215, x2: 315, y2: 545 }, bicycle: { x1: 125, y1: 125, x2: 575, y2: 425 }, car: { x1: 465, y1: 75, x2: 695, y2: 175 } },
  'person.jpg': { person: { x1: 185, y1: 95, x2: 280, y2: 380 }, horse: { x1: 400, y1: 135, x2: 605, y2: 350 }, dog: { x1: 60, y1: 260, x2: 210, y2: 350 } },
};

describe('yolov8n on real photos', () => {
  it.each(Object.keys(REGIONS))('%s: the expected objects over the right regions, with class labels', async (photo) => {
    const result = await detector.detect(await readPhoto(path.join('darknet', photo)), { minScore: 0.5 });
    expect(result.model).toMatchObject({ name: 'yolov8n', sha256: '9697a185dd8eb7448aea4c979e10db2b4977f70a46687890ef796936c44a848b' });
    expect(result.detections.map((d) => d.label).sort()).toEqual(Object.keys(REGIONS[photo]!).sort());
    for (const d of result.detections) {
      expect(iou(d.box, REGIONS[photo]![d.label]!), d.label).toBeGreaterThan(0.7);
      expect(d.keypoints).toBeUndefined();
    }
  });

  it('coffee.png: a cup', async () => {
    const result = await detector.detect(await readPhoto('coffee.png'), { minScore: 0.5 });
    expect(result.detections.map((d) => d.label)).toContain('cup');
  });

  it('kite.jpg and horses.jpg: people and kites, horses', async () => {
    const kite = (await detector.detect(await readPhoto('darknet/kite.jpg'))).detections.map((d) => d.label);
    expect(kite).toContain('person');
    expect(kite).toContain('kite');
    const horses = (await detector.detect(await readPhoto('darknet/horses.jpg'))).detections.map((d) => d.label);
    expect(horses.filter((l) => l === 'horse').length).toBeGreaterThanOrEqual(3);
  });
});

describe('when yolov8n is not usable', () => {
  it('a model not fetched gives the clear error naming the fetch command', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'lookout-models-'));
    const err = await createDetector({
      spec: yolov8nSpec(empty),
      device: { kind: 'cpu' },
      allowCpuFallback: false,
      limits: DEFAULT_IMAGE_LIMITS,
      logger: pino({ level: 'silent' }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DetectionError);
    expect((err as DetectionError).code).toBe('model_unavailable');
    expect((err as DetectionError).message).toMatch(/run npx lookout models fetch yolov8n --accept-license agpl-3.0/);
    const cli = await runCli(['detect', '--model', 'yolov8n', darknet('dog.jpg')], { env: { LOOKOUT_MODELS_DIR: empty } });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/model_unavailable: .*models fetch yolov8n/);
  });

  it('a corrupted model file (sha256 mismatch) is refused at load', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-models-'));
    const spec = yolov8nSpec(dir);
    await copyFile(path.join(modelsDir, 'yolov8n.onnx'), path.join(dir, 'yolov8n.onnx'));
    await writeFile(path.join(dir, 'yolov8n.onnx'), Buffer.from('tampered'), { flag: 'a' });
    const err = await createDetector({
      spec,
      device: { kind: 'cpu' },
      allowCpuFallback: false,
      limits: DEFAULT_IMAGE_LIMITS,
      logger: pino({ level: 'silent' }),
    }).catch((e: unknown) => e);
    expect((err as DetectionError).code).toBe('model_checksum_mismatch');
  });

  it('fetching without accepting the license prints the terms and exits 1', async () => {
    const cli = await runCli(['models', 'fetch', 'yolov8n'], { env: { LOOKOUT_MODELS_DIR: await mkdtemp(path.join(os.tmpdir(), 'lookout-models-')) } });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/AGPL-3.0/);
    expect(cli.stderr).toMatch(/--accept-license agpl-3.0/);
  });
});

describe('lookout detect --model yolov8n', () => {
  it('prints the JSON lines with class labels', async () => {
    const { code, stdout } = await runCli(['detect', '--model', 'yolov8n', '--min-score', '0.5', darknet('dog.jpg'), darknet('person.jpg')], {
      env: { LOOKOUT_MODELS_DIR: modelsDir },
    });
    expect(code).toBe(0);
    const [dog, person] = jsonLines(stdout);
    expect(Object.keys(dog!)).toEqual(['file', 'width', 'height', 'model', 'detections']);
    expect(dog!.detections.map((d: any) => d.label).sort()).toEqual(['bicycle', 'car', 'dog']);
    expect(person!.detections.map((d: any) => d.label).sort()).toEqual(['dog', 'horse', 'person']);
    expect(Object.keys(dog!.detections[0])).toEqual(['label', 'score', 'box']);
  });
});
