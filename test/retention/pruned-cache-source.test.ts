// Retention deletes finished images that a new image's claim may just have
// picked as its earlier answer. Copying from an image deleted between the
// claim and the copy must not answer the new image with no boxes: the copy
// reports the source gone and writes nothing, and the handler runs the model.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimImage, copyCachedResult } from '../../src/db/repositories/images.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;

beforeAll(async () => {
  env = await createTestEnv('pruned_cache');
  services = await env.open();
});
afterAll(() => env?.cleanup());

/** A finished batch whose one image (bytes `sha`) found one face, and a queued batch with an image of the same bytes, claimed. */
async function answeredThenClaimed(sha: string) {
  const [done, queued, source, target] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  await env.sql(
    `INSERT INTO batches (id, status, model, min_score, total, created_by, finished_at) VALUES
       ($1, 'completed', 'blazeface-back', 0.75, 1, 'test', now() - interval '2 days'), ($2, 'queued', 'blazeface-back', 0.75, 1, 'test', NULL)`,
    [done, queued],
  );
  await env.sql(
    `INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, status, width, height, model_version, model_sha256, finished_at) VALUES
       ($1, $3, 0, 'a.png', $5, 10, $5, 'blazeface-back', 0.75, 'done', 64, 48, '1.2.0', 'm', now()),
       ($2, $4, 0, 'b.png', $5, 10, $5, 'blazeface-back', 0.75, 'queued', NULL, NULL, NULL, NULL, NULL)`,
    [source, target, done, queued, sha],
  );
  await env.sql(`INSERT INTO detections (image_id, rank, label, score, x1, y1, x2, y2) VALUES ($1, 0, 'face', 0.9, 1, 2, 3, 4)`, [source]);
  const claimed = await claimImage(services.pool, target);
  expect(claimed?.earlier?.id).toBe(source);
  return { done, target, earlier: claimed!.earlier! };
}

const imageRow = async (id: string) =>
  (
    await env.sql<{ status: string; cache_hit: boolean; n: number }>(
      `SELECT status, cache_hit, (SELECT count(*)::int FROM detections WHERE image_id = $1) AS n FROM images WHERE id = $1`,
      [id],
    )
  )[0];

describe('copyCachedResult', () => {
  it('copies the earlier answer while it is there', async () => {
    const { target, earlier } = await answeredThenClaimed('a'.repeat(64));
    expect(await copyCachedResult(services.pool, target, earlier, 'w')).toBe(1);
    expect(await imageRow(target)).toEqual({ status: 'done', cache_hit: true, n: 1 });
  });

  it('writes nothing and says so when the earlier image was pruned after the claim', async () => {
    const { done, target, earlier } = await answeredThenClaimed('b'.repeat(64));
    await env.sql('DELETE FROM batches WHERE id = $1', [done]); // what a prune does (images and detections cascade)
    expect(await copyCachedResult(services.pool, target, earlier, 'w')).toBeUndefined();
    expect(await imageRow(target)).toEqual({ status: 'running', cache_hit: false, n: 0 });
  });
});
