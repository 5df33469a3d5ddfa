// What the engine does with awkward and hostile input: EXIF orientation,
// grey and alpha images, and each kind of bad input with its typed error.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectionError, type Detector } from '../../src/detection/index.js';
import { iou } from '../helpers/boxes.js';
import { builtinDetector } from '../helpers/detectors.js';
import { readPhoto } from '../helpers/photos.js';

let detector: Detector;
beforeAll(async () => {
  detector = await builtinDetector('blazeface-back');
});
afterAll(() => detector.close());

async function detectError(bytes: Buffer, limits?: { maxBytes?: number }): Promise<DetectionError> {
  const target = limits ? await builtinDetector('blazeface-back', { limits: { maxBytes: limits.maxBytes ?? 1e9, maxPixels: 50_000_000 } }) : detector;
  try {
    await target.detect(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(DetectionError);
    return err as DetectionError;
  } finally {
    if (target !== detector) await target.close();
  }
  throw new Error('expected the detection to fail');
}

describe('EXIF orientation', () => {
  it('an orientation-6 copy gives the same box in the upright frame', async () => {
    // A non-square upright crop, so a missed rotation would also swap axes.
    const upright = await sharp(await readPhoto('astronaut.png'))
      .extract({ left: 40, top: 0, width: 400, height: 300 })
      .jpeg({ quality: 95 })
      .toBuffer();
    // Stored rotated 90 degrees counter-clockwise, tagged "rotate 90 CW to view".
    const stored = await sharp(upright).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const storedMeta = await sharp(stored).metadata();
    expect([storedMeta.width, storedMeta.height, storedMeta.orientation]).toEqual([300, 400, 6]);

    const reference = await detector.detect(upright);
    const oriented = await detector.detect(stored);
    expect([oriented.width, oriented.height]).toEqual([400, 300]);
    expect(reference.detections).toHaveLength(1);
    expect(oriented.detections).toHaveLength(1);
    expect(iou(oriented.detections[0]!.box, reference.detections[0]!.box)).toBeGreaterThanOrEqual(0.9);
  });
});

describe('colour models', () => {
  it('a greyscale PNG and an RGBA PNG are read as RGB', async () => {
    const photo = await readPhoto('astronaut.png');
    const grey = await sharp(photo).toColourspace('b-w').png().toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const rgba = await sharp(photo).ensureAlpha(0.9).png().toBuffer();
    expect((await sharp(rgba).metadata()).channels).toBe(4);
    for (const bytes of [grey, rgba]) {
      const result = await detector.detect(bytes, { minScore: 0.5 });
      expect(result.detections.length).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('bad input gives a typed error', () => {
  it('zero bytes: empty_input', async () => {
    expect((await detectError(Buffer.alloc(0))).code).toBe('empty_input');
  });

  it('plain text: unsupported_format', async () => {
    const err = await detectError(Buffer.from('hello, this is not an image\n'));
    expect(err.code).toBe('unsupported_format');
    expect(err.message).toMatch(/plain text/);
  });

  it('SVG (even a valid one sharp could render): unsupported_format', async () => {
    const svg = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>');
    expect((await sharp(svg).metadata()).format).toBe('svg');
    const err = await detectError(svg);
    expect(err.code).toBe('unsupported_format');
    expect(err.message).toMatch(/SVG/);
  });

  it('truncated JPEG: corrupt_image', async () => {
    const jpeg = await readPhoto('rocket.jpg');
    expect((await detectError(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).code).toBe('corrupt_image');
  });

  it('truncated PNG: corrupt_image', async () => {
    const png = await readPhoto('coffee.png');
    expect((await detectError(png.subarray(0, Math.floor(png.length / 2)))).code).toBe('corrupt_image');
  });

  it('corrupt data behind a valid signature: corrupt_image', async () => {
    const png = await readPhoto('camera.png');
    const corrupt = Buffer.from(png);
    // Keep the 8-byte signature and IHDR, scramble the compressed pixel data.
    for (let i = 100; i < corrupt.length; i += 7) corrupt[i] = (corrupt[i]! ^ 0x5a) & 0xff;
    expect((await detectError(corrupt)).code).toBe('corrupt_image');
  });

  it('a 60-megapixel image: too_many_pixels (default limit 50 MP)', async () => {
    const huge = await sharp({ create: { width: 8000, height: 7500, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const err = await detectError(huge);
    expect(err.code).toBe('too_many_pixels');
    expect(err.message).toMatch(/60000000 pixels/);
    expect(err.retryable).toBe(false);
  });

  it('more bytes than the byte limit: too_large', async () => {
    const photo = await readPhoto('rocket.jpg');
    const err = await detectError(photo, { maxBytes: 1000 });
    expect(err.code).toBe('too_large');
  });
});
