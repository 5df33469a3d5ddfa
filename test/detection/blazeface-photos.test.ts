// The real BlazeFace models on real photographs: faces where there are faces,
// none where there are none, boxes over the face in original pixels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, Detector } from '../../src/detection/index.js';
import { contains, iou } from '../helpers/boxes.js';
import { builtinDetector } from '../helpers/detectors.js';
import { FACE_PHOTOS, NO_FACE_PHOTOS, readPhoto } from '../helpers/photos.js';

// Face regions marked by hand on the photos (original pixels), independent of
// any model output: the forehead-to-chin, ear-to-ear square.
const FACES: Record<(typeof FACE_PHOTOS)[number], Box> = {
  'astronaut.png': { x1: 178, y1: 78, x2: 272, y2: 180 },
  'camera.png': { x1: 182, y1: 122, x2: 252, y2: 200 },
};

describe.each([
  { model: 'blazeface-back', sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2' },
  { model: 'blazeface-front', sha256: 'd388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51' },
])('$model at its default threshold', ({ model, sha256 }) => {
  let detector: Detector;
  beforeAll(async () => {
    detector = await builtinDetector(model);
  });
  afterAll(() => detector.close());

  it.each(FACE_PHOTOS)('%s: exactly one face, over the face', async (photo) => {
    const result = await detector.detect(await readPhoto(photo));
    expect(result.model).toEqual({ name: model, version: '1.2.0', sha256 });
    expect(result.width).toBe(512);
    expect(result.height).toBe(512);
    expect(result.detections).toHaveLength(1);
    const [face] = result.detections;
    expect(face?.label).toBe('face');
    expect(face?.score).toBeGreaterThanOrEqual(detector.spec.defaultMinScore);
    expect(iou(face!.box, FACES[photo])).toBeGreaterThan(0.6);
    // Six landmarks (eyes, nose, mouth, ears), the inner four inside the box.
    expect(face?.keypoints).toHaveLength(6);
    for (const point of face!.keypoints!.slice(0, 4)) expect(contains(face!.box, point)).toBe(true);
  });

  it.each(NO_FACE_PHOTOS)('%s: no face', async (photo) => {
    const result = await detector.detect(await readPhoto(photo));
    expect(result.detections).toEqual([]);
  });
});

describe('thresholds', () => {
  it('a lower minScore finds more candidates than the default on the back model', async () => {
    const detector = await builtinDetector('blazeface-back');
    try {
      const photo = await readPhoto('coffee.png');
      expect((await detector.detect(photo)).detections).toHaveLength(0);
      // The back model at 0.5 sees "faces" in cups: why the default is 0.75.
      expect((await detector.detect(photo, { minScore: 0.5 })).detections.length).toBeGreaterThan(0);
    } finally {
      await detector.close();
    }
  });
});
