// A batch over time (issue 19): re-run over the same images with another
// model or threshold (no upload; cache rules hold), its results as CSV (the
// same as the JSON, quoted and guarded for spreadsheets), deleted when
// finished (rows and its own blobs, blobs another batch uses kept), and the
// batches list with detection counts and key names. Real photos, one of them
// a cut-off JPEG; real Redis, Postgres, model and fs blob store.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, EXPECTED_FACES, readPhoto } from '../helpers/photos.js';
import { parseCsv } from '../helpers/csv.js';
import { authed, createTestEnv, fsBlobDir, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let viewer: string;
let submitter: string;
let operator: string;
let batchId: string;
/** A cut-off JPEG under a name a spreadsheet would take as a formula, with a comma and quotes (uploads carry no newline in a name). */
const CUT_NAME = '=cut, "off" rocket.jpg';

beforeAll(async () => {
  env = await createTestEnv('rerun_export_delete');
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services);
  viewer = await env.key(services, 'viewer');
  submitter = await env.key(services, 'submitter');
  operator = await env.key(services, 'operator');
  const rocket = await readPhoto('rocket.jpg');
  const files = [
    ...(await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })))),
    { name: CUT_NAME, bytes: rocket.subarray(0, Math.floor(rocket.length / 2)) },
  ];
  const { status, body } = await submit(url, submitter, files);
  expect(status, JSON.stringify(body)).toBe(202);
  batchId = body.id;
  expect(await waitForBatch(url, viewer, batchId)).toMatchObject({ status: 'completed_with_errors', progress: { total: 7, done: 6, failed: 1 } });
}, 120_000);
afterAll(() => env?.cleanup());

async function results(id: string): Promise<Record<string, any>> {
  const res = await fetch(`${url}/v1/batches/${id}/results`, authed(viewer));
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

async function rerun(id: string, body: unknown, key = submitter): Promise<{ status: number; body: Record<string, any>; location: string | null }> {
  const res = await fetch(`${url}/v1/batches/${id}/rerun`, {
    method: 'POST',
    headers: { ...authed(key).headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any>, location: res.headers.get('location') };
}

const blobPath = (key: string) => path.join(fsBlobDir(env.config), key.slice(0, 2), key.slice(2, 4), key);

describe('POST /v1/batches/:id/rerun', () => {
  it('with blazeface-front: a new batch over the same images, every one answered with that model; nothing uploaded', async () => {
    const blobsBefore = await env.sql<{ n: number }>('SELECT count(DISTINCT blob_key)::int AS n FROM images');
    const { status, body, location } = await rerun(batchId, { model: 'blazeface-front' });
    expect(status, JSON.stringify(body)).toBe(202);
    expect(Object.keys(body)).toEqual(['id']);
    expect(body.id).not.toBe(batchId);
    expect(location).toBe(`/v1/batches/${body.id}`);
    const batch = await waitForBatch(url, viewer, body.id);
    expect(batch).toMatchObject({ status: 'completed_with_errors', progress: { total: 7, done: 6, failed: 1 } });
    const [again, first] = [await results(body.id), await results(batchId)];
    expect(again.images.map((img: any) => img.filename)).toEqual(first.images.map((img: any) => img.filename));
    expect(again.images.map((img: any) => img.sha256)).toEqual(first.images.map((img: any) => img.sha256));
    for (const img of again.images) {
      expect(img.model.name, img.filename).toBe('blazeface-front');
      if (img.status === 'done') expect(img.model.sha256, img.filename).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(again.images.find((img: any) => img.filename === CUT_NAME)).toMatchObject({ status: 'failed', error: { code: 'corrupt_image' } });
    // The model really ran: the front model's file, not the back model's answers copied.
    const rows = await env.sql<{ cache_hit: boolean; model_sha256: string | null }>('SELECT cache_hit, model_sha256 FROM images WHERE batch_id = $1', [
      body.id,
    ]);
    expect(rows.every((r) => !r.cache_hit)).toBe(true);
    expect(new Set(rows.flatMap((r) => (r.model_sha256 ? [r.model_sha256] : [])))).not.toContain(first.images[0].model.sha256);
    // Same blobs, none added.
    expect(await env.sql('SELECT count(DISTINCT blob_key)::int AS n FROM images')).toEqual(blobsBefore);
    const [audit] = await env.sql<{ details: Record<string, unknown> }>(`SELECT details FROM audit_log WHERE action = 'batch.submit' AND target = $1`, [
      body.id,
    ]);
    expect(audit!.details).toMatchObject({ rerunOf: batchId, model: 'blazeface-front', images: 7 });
  });

  it('with the same model and threshold: answered from the cache', async () => {
    const { status, body } = await rerun(batchId, {});
    expect(status).toBe(202);
    await waitForBatch(url, viewer, body.id);
    const rows = await env.sql<{ filename: string; cache_hit: boolean; model: string; min_score: number }>(
      'SELECT filename, cache_hit, model, min_score FROM images WHERE batch_id = $1 ORDER BY position',
      [body.id],
    );
    const [source] = await env.sql<{ model: string; min_score: number }>('SELECT model, min_score FROM batches WHERE id = $1', [batchId]);
    expect(rows.every((r) => r.model === source!.model && r.min_score === source!.min_score)).toBe(true);
    // Every image answered before is a cache hit; the cut-off one failed, so it had no answer to copy.
    expect(rows.map((r) => [r.filename, r.cache_hit])).toEqual([...ALL_PHOTOS.map((n) => [n, true]), [CUT_NAME, false]]);
    const counts = Object.fromEntries(
      (await results(body.id)).images.filter((i: any) => i.status === 'done').map((i: any) => [i.filename, i.detections.length]),
    );
    expect(counts).toEqual(EXPECTED_FACES);
  });

  it('with another threshold: answered anew (not from the cache)', async () => {
    const { body } = await rerun(batchId, { minScore: 0.5 });
    await waitForBatch(url, viewer, body.id);
    const rows = await env.sql<{ cache_hit: boolean; min_score: number }>('SELECT cache_hit, min_score FROM images WHERE batch_id = $1', [body.id]);
    expect(rows.every((r) => !r.cache_hit && r.min_score === 0.5)).toBe(true);
  });

  it('refuses an unknown model as a submit does (400 unknown_model), and a bad body, an unknown batch, a viewer', async () => {
    const unknown = await rerun(batchId, { model: 'no-such-model' });
    const submitted = await submit(url, submitter, [{ name: 'x.png', bytes: await readPhoto('camera.png') }], { model: 'no-such-model' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual(submitted.body);
    expect(unknown.body.error.code).toBe('unknown_model');
    expect((await rerun(batchId, { minScore: 2 })).status).toBe(400);
    expect((await rerun(batchId, { webhookUrl: 'https://x.invalid' })).status).toBe(400);
    expect((await rerun(randomUUID(), {})).status).toBe(404);
    expect((await rerun(batchId, {}, viewer)).status).toBe(403);
  });

  it('refuses a batch whose blobs are gone (409 images_gone naming them); nothing submitted', async () => {
    const { body } = await submit(url, submitter, [
      { name: 'kept.png', bytes: await readPhoto('camera.png') },
      { name: 'gone.png', bytes: Buffer.concat([await readPhoto('coffee.png'), Buffer.from('unique tail')]) },
    ]);
    await waitForBatch(url, viewer, body.id);
    // As if the blob store lost it (a volume restored from an older copy, a hand-made mistake).
    await rm(blobPath(body.images[1].sha256));
    const batchesBefore = await env.sql('SELECT count(*)::int AS n FROM batches');
    const refused = await rerun(body.id, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('images_gone');
    expect(refused.body.error.message).toContain('gone.png');
    expect(refused.body.error.message).not.toContain('kept.png');
    expect(await env.sql('SELECT count(*)::int AS n FROM batches')).toEqual(batchesBefore);
  });
});

describe('GET /v1/batches/:id/results?format=csv', () => {
  it('has one record per detection, one per image without, the failed one with its error: the same as the JSON', async () => {
    const res = await fetch(`${url}/v1/batches/${batchId}/results?format=csv`, authed(viewer));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename=lookout-batch-${batchId}-results.csv`);
    const text = await res.text();
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...records] = parseCsv(text);
    expect(header).toEqual(['batch', 'image_id', 'filename', 'model', 'label', 'score', 'x1', 'y1', 'x2', 'y2', 'error_code', 'error_message', 'status']);

    const json = await results(batchId);
    const expected = json.images.flatMap((img: any) => {
      // The file name starting with = is written as text (a leading apostrophe); the rest as they are.
      const name = img.filename.startsWith('=') ? `'${img.filename}` : img.filename;
      const image = [batchId, img.id, name, img.model.name];
      const error = [img.error?.code ?? '', img.error?.message ?? '', img.status];
      if (img.detections.length === 0) return [[...image, '', '', '', '', '', '', ...error]];
      return img.detections.map((d: any) => [...image, d.label, String(d.score), ...[d.box.x1, d.box.y1, d.box.x2, d.box.y2].map(String), ...error]);
    });
    expect(records).toEqual(expected);
    // 2 faces in 2 images, 4 images with none, 1 failed.
    expect(records).toHaveLength(7);
    expect(records.filter((r) => r[4] === 'face')).toHaveLength(2);
    const cut = records.find((r) => r[10] === 'corrupt_image')!;
    expect(cut[2]).toBe(`'${CUT_NAME}`);
    // The raw text quotes the name (comma, quotes, newline), quotes doubled.
    expect(text).toContain(`,"'=cut, ""off"" rocket.jpg",`);
  });

  it('JSON stays the default; format=json is the same; another format is a 400', async () => {
    const plain = await fetch(`${url}/v1/batches/${batchId}/results`, authed(viewer));
    const asked = await fetch(`${url}/v1/batches/${batchId}/results?format=json`, authed(viewer));
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await asked.json()).toEqual(await plain.json());
    expect((await fetch(`${url}/v1/batches/${batchId}/results?format=xlsx`, authed(viewer))).status).toBe(400);
  });
});

describe('GET /v1/batches', () => {
  it('lists each batch with its detections and the name of the key that submitted it', async () => {
    const res = await fetch(`${url}/v1/batches?limit=200`, authed(viewer));
    const { batches } = (await res.json()) as { batches: any[] };
    const first = batches.find((b) => b.id === batchId);
    expect(first).toMatchObject({ detections: 2, createdByName: 'test-submitter', progress: { total: 7, done: 6, failed: 1 } });
    expect(first.createdBy).toMatch(/^key:[0-9a-f]{8}$/);
    for (const b of batches) {
      const [n] = await env.sql<{ n: number }>('SELECT count(*)::int AS n FROM detections d JOIN images i ON i.id = d.image_id WHERE i.batch_id = $1', [b.id]);
      expect(b.detections, b.id).toBe(n!.n);
    }
  });

  it('names a deleted key null', async () => {
    const key = await env.key(services, 'submitter');
    const { body } = await submit(url, key, [{ name: 'k.png', bytes: await readPhoto('camera.png') }]);
    await waitForBatch(url, viewer, body.id);
    await env.sql(`DELETE FROM api_keys WHERE id = (SELECT key_id FROM batches WHERE id = $1)`, [body.id]);
    const { batches } = (await (await fetch(`${url}/v1/batches?limit=200`, authed(viewer))).json()) as { batches: any[] };
    expect(batches.find((b) => b.id === body.id)).toMatchObject({ createdByName: null, detections: 1 });
  });
});

describe('DELETE /v1/batches/:id', () => {
  async function remove(id: string, key = operator) {
    const res = await fetch(`${url}/v1/batches/${id}`, { method: 'DELETE', ...authed(key) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it('removes a finished batch, its rows and the blobs only it used; blobs another batch uses stay; audited', async () => {
    const shared = await readPhoto('astronaut.png'); // also in the first batch
    const own = Buffer.concat([await readPhoto('chelsea.png'), Buffer.from('only here')]);
    const { body } = await submit(url, submitter, [
      { name: 'shared.png', bytes: shared },
      { name: 'own.png', bytes: own },
      { name: 'own again.png', bytes: own },
    ]);
    await waitForBatch(url, viewer, body.id);
    const [sharedKey, ownKey] = [body.images[0].sha256, body.images[1].sha256];
    expect(existsSync(blobPath(ownKey))).toBe(true);
    const [counts] = await env.sql<{ detections: number }>(
      'SELECT count(*)::int AS detections FROM detections d JOIN images i ON i.id = d.image_id WHERE i.batch_id = $1',
      [body.id],
    );

    const { status, body: deleted } = await remove(body.id);
    expect(status).toBe(200);
    expect(deleted).toEqual({
      id: body.id,
      images: 3,
      detections: counts!.detections,
      blobs: { removed: 1, bytes: own.length, kept: 1, failed: 0 },
    });
    expect(await env.sql('SELECT id FROM batches WHERE id = $1', [body.id])).toEqual([]);
    expect(await env.sql('SELECT id FROM images WHERE batch_id = $1', [body.id])).toEqual([]);
    expect(await env.sql('SELECT d.id FROM detections d WHERE d.image_id = ANY($1::uuid[])', [body.images.map((i: any) => i.id)])).toEqual([]);
    expect(existsSync(blobPath(ownKey))).toBe(false);
    expect(existsSync(blobPath(sharedKey))).toBe(true);
    // The first batch's astronaut still reads.
    expect((await fetch(`${url}/v1/images/${(await results(batchId)).images[0].id}/original`, authed(viewer))).status).toBe(200);
    const [me] = await env.sql<{ id: string }>(`SELECT id FROM api_keys WHERE name = 'test-operator'`);
    const audit = await env.sql<{ actor: string; details: Record<string, any> }>(
      `SELECT actor, details FROM audit_log WHERE action = 'batch.delete' AND target = $1`,
      [body.id],
    );
    expect(audit).toEqual([{ actor: `key:${me!.id}`, details: { images: 3, detections: counts!.detections, blobs: deleted.blobs } }]);
    expect((await remove(body.id)).status).toBe(404);
  });

  it('refuses an unfinished batch (409 batch_unfinished, with its status) and keeps it; 404 for an unknown one; operator only', async () => {
    const detect = services.queues.get('detect')!;
    await detect.pause();
    try {
      const { body } = await submit(url, submitter, [{ name: 'waits.png', bytes: await readPhoto('rocket.jpg') }]);
      const refused = await remove(body.id);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toEqual({ code: 'batch_unfinished', message: expect.stringContaining('queued') });
      expect(await env.sql('SELECT id FROM batches WHERE id = $1', [body.id])).toHaveLength(1);
      expect((await remove(body.id, submitter)).status).toBe(403);
    } finally {
      await detect.resume();
    }
    expect((await remove(randomUUID())).status).toBe(404);
    expect((await remove('not-a-uuid')).status).toBe(400);
  });
});
