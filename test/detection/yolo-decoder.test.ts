// The YOLO-family decoder on a real ONNX graph built by the test, whose
// outputs are known: thresholds, class-aware NMS, labels, and mapping from
// the letterboxed input back to original pixels. Then the micro-batcher on
// dynamic- and fixed-batch graphs, checking each image gets its own output.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createDetector, DEFAULT_IMAGE_LIMITS, type ModelSpec } from '../../src/detection/index.js';
import { testModelSpec } from '../helpers/detectors.js';
import { buildYoloTestModel } from '../helpers/onnx-graph.js';
import { pino } from 'pino';

const LABELS = ['person', 'car', 'dog'];
const SIZE = 32;
// Per anchor: cx, cy, w, h (input pixels), then one score per class.
const ANCHORS: number[][] = [
  [10, 12, 8, 8, 0.9, 0.1, 0.05], // person 0.9
  [11, 12, 8, 8, 0.8, 0.2, 0.0], // person 0.8, IoU 0.78 with anchor 0: suppressed
  [10, 12, 8, 8, 0.1, 0.7, 0.0], // car 0.7 on the person's box: other class, kept
  [24, 24, 6, 4, 0.0, 0.0, 0.3], // dog 0.3: kept at 0.25, dropped at 0.5
  [16, 16, 4, 4, 0.2, 0.2, 0.2], // best score 0.2: below the default threshold
  [20, 6, 4, 4, 0.24, 0.6, 0.59], // car 0.6 (best class wins)
];
const ROWS = 4 + LABELS.length;

function rows(): Float32Array {
  const out = new Float32Array(ROWS * ANCHORS.length);
  ANCHORS.forEach((anchor, a) => anchor.forEach((v, r) => (out[r * ANCHORS.length + a] = v)));
  return out;
}

async function yoloSpec(batch: 'dynamic' | 1, name: string): Promise<ModelSpec> {
  const bytes = buildYoloTestModel({
    inputSize: SIZE,
    numClasses: LABELS.length,
    numAnchors: ANCHORS.length,
    batch,
    rows: rows(),
    meanShiftIndex: 3, // row 0 (cx) of anchor 3: the dog moves right by mean(image)
  });
  return testModelSpec(bytes, {
    name,
    version: 'test',
    license: 'test',
    input: { name: 'images', layout: 'NCHW', width: SIZE, height: SIZE, scale: 1 / 255, offset: 0, padValue: 114 },
    decoder: { kind: 'yolo', output: 'output0', labels: LABELS, nmsIou: 0.45 },
    defaultMinScore: 0.25,
  });
}

const solid = (width: number, height: number, grey: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: grey, g: grey, b: grey } } })
    .png()
    .toBuffer();

const logger = pino({ level: 'silent' });

describe('YOLO decoder on a built graph', () => {
  it('keeps the right boxes, labels and scores, in original pixels', async () => {
    const detector = await createDetector({
      spec: await yoloSpec('dynamic', 'yolo-test'),
      device: { kind: 'cpu' },
      allowCpuFallback: false,
      limits: DEFAULT_IMAGE_LIMITS,
      logger,
    });
    try {
      // 64x32 letterboxes to 32x16 at scale 0.5 with 8 rows of padding on top:
      // original = ((x - 0) / 0.5, (y - 8) / 0.5).
      const result = await detector.detect(await solid(64, 32, 0));
      expect([result.width, result.height]).toEqual([64, 32]);
      expect(result.detections.map((d) => [d.label, d.score])).toEqual([
        ['person', 0.9],
        ['car', 0.7],
        ['car', 0.6],
        ['dog', 0.3],
      ]);
      const [person, , car2, dog] = result.detections;
      expect(person?.box).toEqual({ x1: 12, y1: 0, x2: 28, y2: 16 });
      expect(car2?.box).toEqual({ x1: 36, y1: 0, x2: 44, y2: 0 }); // y 4..8 lies in the padding: clamped
      // The dog's cx moved by mean(image) = padding only: 16 of 32 rows at 114/255.
      const shift = (114 / 255) * 0.5;
      expect(dog?.box.x1).toBeCloseTo((24 + shift - 3) / 0.5, 1);
      expect(dog?.box.y1).toBeCloseTo((24 - 2 - 8) / 0.5, 5);
      expect(person?.keypoints).toBeUndefined();

      const strict = await detector.detect(await solid(64, 32, 0), { minScore: 0.5 });
      expect(strict.detections.map((d) => d.label)).toEqual(['person', 'car', 'car']);
    } finally {
      await detector.close();
    }
  });
});

describe('micro-batcher on built graphs', () => {
  const greys = [0, 32, 64, 96, 128, 160, 192, 255];

  async function runAll(batch: 'dynamic' | 1) {
    const sizes: number[] = [];
    const detector = await createDetector({
      spec: await yoloSpec(batch, `yolo-${batch}`),
      device: { kind: 'cpu' },
      allowCpuFallback: false,
      limits: DEFAULT_IMAGE_LIMITS,
      logger,
      maxBatch: 4,
      maxDelayMs: 200,
      onBatch: (size) => sizes.push(size),
    });
    try {
      const images = await Promise.all(greys.map((g) => solid(SIZE, SIZE, g)));
      const results = await Promise.all(images.map((img) => detector.detect(img)));
      return { sizes, results, maxBatch: detector.maxBatch };
    } finally {
      await detector.close();
    }
  }

  it('groups concurrent images into one session.run each (dynamic batch) and routes outputs back', async () => {
    const { sizes, results, maxBatch } = await runAll('dynamic');
    expect(maxBatch).toBe(4);
    // Eight tiny images preprocess well within 200 ms: two full batches (a
    // loaded machine may split one, never exceed maxBatch).
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(8);
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.length).toBeLessThanOrEqual(4);
    results.forEach((result, i) => {
      const dog = result.detections.find((d) => d.label === 'dog');
      // Square image, no padding: the dog's cx moved by exactly this image's mean.
      expect(dog?.box.x1).toBeCloseTo(24 + greys[i]! / 255 - 3, 1);
    });
  });

  it('runs one image per session.run on a fixed-batch model', async () => {
    const { sizes, results, maxBatch } = await runAll(1);
    expect(maxBatch).toBe(1);
    expect(sizes).toEqual(greys.map(() => 1));
    results.forEach((result, i) => {
      expect(result.detections.find((d) => d.label === 'dog')?.box.x1).toBeCloseTo(24 + greys[i]! / 255 - 3, 1);
    });
  });
});
