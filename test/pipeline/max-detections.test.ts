// MAX_DETECTIONS_PER_IMAGE: a tiny minScore lets a photo through with many
// weak boxes; an image keeps only the best-scoring ones, best first, through
// the whole pipeline (worker → Postgres → results API) and in `lookout detect`'s
// engine call. Compared against the same model run without a cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepBestDetections, type Detection } from '../../src/detection/index.js';
import type { Services } from '../../src/runtime/services.js';
import { builtinDetector } from '../helpers/detectors.js';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const CAP = 7;
const PHOTO = 'astronaut.png';

let env: TestEnv;
let services: Services;
let url: string;
let key: string;
let uncapped: Detection[];

beforeAll(async () => {
  env = await createTestEnv('max_detections', { MAX_DETECTIONS_PER_IMAGE: String(CAP) });
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  key = await env.key(services, 'submitter');
  const detector = await builtinDetector(env.config.detect.model);
  try {
    uncapped = (await detector.detect(await readPhoto(PHOTO), { minScore: 0.0001 })).detections;
  } finally {
    await detector.close();
  }
});
afterAll(() => env.cleanup());

describe('MAX_DETECTIONS_PER_IMAGE', () => {
  it('is 300 unless set (ultralytics max_det)', async () => {
    const { loadConfig } = await import('../../src/config/config.js');
    expect(loadConfig({}).detect.maxDetectionsPerImage).toBe(300);
    expect(env.config.detect.maxDetectionsPerImage).toBe(CAP);
    expect(() => loadConfig({ MAX_DETECTIONS_PER_IMAGE: '0' })).toThrow(/MAX_DETECTIONS_PER_IMAGE: expected an integer from 1 to 100000/);
  });

  it(`the photo at minScore 0.0001 has more than ${CAP} boxes uncapped`, () => {
    expect(uncapped.length).toBeGreaterThan(CAP);
  });

  it(`minScore 0.0001: the batch keeps the ${CAP} best-scoring boxes, best first`, async () => {
    const { status, body } = await submit(url, key, [{ name: PHOTO, bytes: await readPhoto(PHOTO) }], { minScore: '0.0001' });
    expect(status, JSON.stringify(body)).toBe(202);
    expect((await waitForBatch(url, key, body.id as string)).status).toBe('completed');
    const results = (await (await fetch(`${url}/v1/batches/${body.id}/results`, authed(key))).json()) as { images: Array<{ detections: Detection[] }> };
    const kept = results.images[0]!.detections;
    expect(kept).toHaveLength(CAP);
    const best = [...uncapped].sort((a, b) => b.score - a.score).slice(0, CAP);
    // Stored as real (float4): compared to 5 digits.
    kept.forEach((d, i) => {
      expect(d.score).toBeCloseTo(best[i]!.score, 5);
      expect(d.box.x1).toBeCloseTo(best[i]!.box.x1, 1);
    });
    const rows = await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM detections d JOIN images i ON i.id = d.image_id WHERE i.batch_id = $1', [
      body.id,
    ]);
    expect(rows[0]!.n).toBe(CAP);
  });
});

describe('keepBestDetections', () => {
  const d = (score: number, label = 'x'): Detection => ({ label, score, box: { x1: 0, y1: 0, x2: 1, y2: 1 } });
  it('keeps the highest scores, best first, whatever the input order', () => {
    expect(keepBestDetections([d(0.1), d(0.9), d(0.5), d(0.7)], 2).map((x) => x.score)).toEqual([0.9, 0.7]);
    expect(keepBestDetections([d(0.2), d(0.3)], 5).map((x) => x.score)).toEqual([0.3, 0.2]);
    expect(keepBestDetections([], 3)).toEqual([]);
  });
  it('ties keep their decoder order', () => {
    expect(keepBestDetections([d(0.5, 'a'), d(0.9, 'b'), d(0.5, 'c'), d(0.5, 'e')], 3).map((x) => x.label)).toEqual(['b', 'a', 'c']);
  });
});
