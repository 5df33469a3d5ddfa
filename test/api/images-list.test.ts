// Failures across batches (issue 19): GET /v1/images finds images by status,
// error, part of the file name, model and time, newest first, a page at a
// time (every row once, rows of the same millisecond included); POST
// /v1/images/retry runs a selection of failed images again in place, in their
// own batch, which runs and finishes again (audit, webhook). Real photos, one
// of them a cut-off JPEG; real Redis, Postgres and model.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { startWebhookReceiver, until } from '../helpers/receivers.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let viewer: string;
let operator: string;
let submitter: string;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;

/** The batch of the six photos and the cut-off JPEG, and the odd names' batch. */
let batchId: string;
let oddBatchId: string;
let cutId: string;
const CUT_NAME = 'Rocket, cut off.jpg';

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  env = await createTestEnv('images_list', { WEBHOOK_ALLOWED_HOSTS: new URL(hooks.url).host, BATCH_WEBHOOK_SECRET: 'x'.repeat(32) });
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services, { queues: ['detect', 'batches', 'notify'] });
  viewer = await env.key(services, 'viewer');
  operator = await env.key(services, 'operator');
  submitter = await env.key(services, 'submitter');

  const rocket = await readPhoto('rocket.jpg');
  const files = [
    ...(await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })))),
    // A real JPEG cut off at half its length: its header says JPEG, its data ends early.
    { name: CUT_NAME, bytes: rocket.subarray(0, Math.floor(rocket.length / 2)) },
  ];
  const { status, body } = await submit(url, submitter, files, { webhookUrl: hooks.url });
  expect(status, JSON.stringify(body)).toBe(202);
  batchId = body.id;
  cutId = body.images[6].id;
  expect(await waitForBatch(url, viewer, batchId)).toMatchObject({ status: 'completed_with_errors', progress: { total: 7, done: 6, failed: 1 } });

  // Names with LIKE's wildcards in them (and one that only looks like a match without escaping).
  const odd = await submit(url, submitter, [
    { name: '100%_sure.png', bytes: await readPhoto('coffee.png') },
    { name: '100x-sure.png', bytes: await readPhoto('chelsea.png') },
  ]);
  oddBatchId = odd.body.id;
  await waitForBatch(url, viewer, oddBatchId);
}, 120_000);
afterAll(async () => {
  await env?.cleanup();
  await hooks?.close();
});

async function list(query: string, key = viewer): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}/v1/images${query}`, authed(key));
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Every page of a listing, following `next`. */
async function allPages(query: string): Promise<{ rows: any[]; pages: number }> {
  const rows: any[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const sep = query ? '&' : '?';
    const { status, body } = await list(`${query}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(status, JSON.stringify(body)).toBe(200);
    rows.push(...body.images);
    pages++;
    if (!body.next) return { rows, pages };
    cursor = body.next;
    expect(pages).toBeLessThan(100);
  }
}

const listedAt = (row: any) => new Date(row.finishedAt ?? row.createdAt).getTime();

describe('GET /v1/images', () => {
  it('finds the cut-off JPEG by status=failed, with its error', async () => {
    const { status, body } = await list('?status=failed');
    expect(status).toBe(200);
    expect(body.images).toEqual([
      {
        id: cutId,
        batchId,
        filename: CUT_NAME,
        status: 'failed',
        error: { code: 'corrupt_image', message: expect.any(String) },
        model: 'blazeface-back',
        finishedAt: expect.any(String),
        createdAt: expect.any(String),
      },
    ]);
    expect(body.next).toBeUndefined();
  });

  it('finds it by part of its file name, in any case, and by its error code', async () => {
    for (const q of ['cut', 'CUT OFF', 'rocket, c', 'T OFF.JP']) {
      const { body } = await list(`?q=${encodeURIComponent(q)}`);
      expect(
        body.images.map((r: any) => r.id),
        q,
      ).toEqual([cutId]);
    }
    expect((await list('?error=corrupt_image')).body.images.map((r: any) => r.id)).toEqual([cutId]);
    expect((await list('?error=corrupt_image&status=done')).body.images).toEqual([]);
    expect((await list('?error=unsupported_format')).body.images).toEqual([]);
    // rocket.jpg itself and the cut one: both names hold "rocket".
    expect((await list('?q=rocket')).body.images.map((r: any) => r.filename).sort()).toEqual([CUT_NAME, 'rocket.jpg']);
  });

  it("matches % and _ in q as themselves, not as LIKE's wildcards", async () => {
    const names = async (q: string) => (await list(`?q=${encodeURIComponent(q)}`)).body.images.map((r: any) => r.filename).sort();
    expect(await names('0%_')).toEqual(['100%_sure.png']);
    // Unescaped, % and _ would match any text and any one character: 100x-sure.png and more.
    expect(await names('%_s')).toEqual(['100%_sure.png']);
    expect(await names('00_')).toEqual([]); // unescaped: both 100% and 100x
    expect(await names('00%')).toEqual(['100%_sure.png']); // unescaped: both
    expect(await names('e_l')).toEqual(['motorcycle_left.png']);
    expect(await names('\\%_')).toEqual([]);
  });

  it('filters by model, since and before (the listed time: finishedAt, else createdAt)', async () => {
    expect((await list('?model=blazeface-back&limit=500')).body.images).toHaveLength(9);
    expect((await list('?model=blazeface-front')).body.images).toEqual([]);
    const all = (await list('?limit=500')).body.images as any[];
    const times = all.map(listedAt);
    const middle = new Date(times[4]!).toISOString();
    const since = (await list(`?since=${middle}&limit=500`)).body.images as any[];
    const before = (await list(`?before=${middle}&limit=500`)).body.images as any[];
    expect(since.every((r) => listedAt(r) >= Date.parse(middle))).toBe(true);
    expect(before.every((r) => listedAt(r) < Date.parse(middle))).toBe(true);
    expect(new Set([...since, ...before].map((r) => r.id))).toEqual(new Set(all.map((r) => r.id)));
    expect(since.length + before.length).toBe(all.length);
    expect((await list(`?since=${new Date(Date.now() + 60_000).toISOString()}`)).body.images).toEqual([]);
    // The same instant with another offset (its + sent as %2B) is the same filter.
    const shifted = new Date(Date.parse(middle) + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    expect((await list(`?since=${encodeURIComponent(shifted)}&limit=500`)).body.images).toEqual(since);
  });

  it('lists newest first; pages of 2 return every image exactly once', async () => {
    const { rows, pages } = await allPages('?limit=2');
    expect(pages).toBe(5); // 9 images
    expect(rows.map((r) => r.id).sort()).toEqual((await env.sql<{ id: string }>('SELECT id FROM images ORDER BY id')).map((r) => r.id));
    for (let i = 1; i < rows.length; i++) expect(listedAt(rows[i - 1])).toBeGreaterThanOrEqual(listedAt(rows[i]));
  });

  it('pages rows of the same millisecond, and of the same microsecond, each once', async () => {
    // At scale many images finish in the same millisecond: the odd batch's and the big batch's rows are
    // given listed times in one millisecond, microseconds apart, two of them identical to the microsecond.
    await env.sql(`UPDATE images SET finished_at = '2030-01-01T00:00:00.123000Z'::timestamptz + (position % 4) * interval '1 microsecond'`);
    for (const limit of [1, 2, 3, 4]) {
      const { rows } = await allPages(`?limit=${limit}`);
      expect(rows.map((r) => r.id).sort(), `limit ${limit}`).toEqual((await env.sql<{ id: string }>('SELECT id FROM images ORDER BY id')).map((r) => r.id));
    }
    const { rows } = await allPages('?limit=2&status=done');
    expect(rows).toHaveLength(8);
  });

  it.each([
    ['?status=broken', 'status'],
    ['?limit=0', 'limit'],
    ['?limit=501', 'limit'],
    ['?error=Not%20A%20Code', 'error'],
    ['?since=yesterday', 'since'],
    ['?since=2025-01-01T00:00:00', 'since'], // no offset: which time zone?
    ['?since=2025-01-02T00:00:00Z&before=2025-01-01T00:00:00Z', 'since'],
    ['?unknown=1', 'unknown'],
    ['?q=', 'q'],
    ['?q=ab', 'at least 3 characters'],
    ['?cursor=bm90IGEgY3Vyc29y', 'cursor'],
    // Well-formed cursors naming times that do not exist (Date.parse rolls them over; Postgres refuses them).
    ...['2026-02-30T07:53:24.582899Z', '2026-11-31T00:00:00.000000Z', '2026-01-01T24:00:00.000000Z', '2026-13-01T00:00:00.000000Z'].map((at) => [
      `?cursor=${Buffer.from(`${at} 6e8afcf5-5662-422d-87f4-d6f1a092bf16`).toString('base64url')}`,
      'cursor',
    ]),
    ['?q=ab%00c', 'q: holds a NUL character'],
    ['?model=ab%00c', 'model: holds a NUL character'],
    ['?status=failed&status=done', 'status'],
  ])('answers 400 naming the bad parameter: %s', async (query, named) => {
    const { status, body } = await list(query);
    expect(status).toBe(400);
    expect(body.error.message).toContain(named);
  });
});

describe('POST /v1/images/retry', () => {
  async function retry(ids: string[], key = operator): Promise<{ status: number; body: Record<string, any> }> {
    const res = await fetch(`${url}/v1/images/retry`, {
      method: 'POST',
      headers: { ...authed(key).headers, 'content-type': 'application/json' },
      body: JSON.stringify({ ids }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it('is refused below operator', async () => {
    expect((await retry([cutId], submitter)).status).toBe(403);
  });

  it('retries only the failed image, in its batch, which runs and finishes again; audited with the actor; webhook again', async () => {
    await until('the first webhook', () => hooks.received.find((h) => h.json.batch?.id === batchId) ?? undefined, 30_000);
    const [before] = await env.sql<{ finished_at: Date }>('SELECT finished_at FROM batches WHERE id = $1', [batchId]);
    const done = (await list('?status=done&limit=1')).body.images[0].id as string;
    const missing = randomUUID();
    const { status, body } = await retry([cutId, done, missing, cutId]);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.retried).toEqual([{ id: cutId, batchId }]);
    expect(body.skipped).toEqual([
      { id: done, reason: 'not_failed', message: expect.stringContaining('done') },
      { id: missing, reason: 'not_found', message: expect.any(String) },
    ]);

    // The image failed again for the same reason (the bytes are still cut off), as a second attempt.
    const batch = await waitForBatch(url, viewer, batchId);
    expect(batch).toMatchObject({ status: 'completed_with_errors', progress: { total: 7, done: 6, failed: 1 } });
    expect(new Date(batch.finishedAt).getTime()).toBeGreaterThan(before!.finished_at.getTime());
    const [row] = await env.sql<{ status: string; error_code: string; attempts: number }>('SELECT status, error_code, attempts FROM images WHERE id = $1', [
      cutId,
    ]);
    expect(row).toEqual({ status: 'failed', error_code: 'corrupt_image', attempts: 2 });

    // The batch's status is written just before its batch.finished row.
    const audit = await until('the second batch.finished row', async () => {
      const rows = await env.sql<{ actor: string; action: string; details: Record<string, any> }>(
        `SELECT actor, action, details FROM audit_log WHERE target = $1 AND action LIKE 'batch.%' ORDER BY id`,
        [batchId],
      );
      return rows.length >= 4 ? rows : undefined;
    });
    const [me] = await env.sql<{ id: string }>(`SELECT id FROM api_keys WHERE name = 'test-operator'`);
    expect(audit.map((a) => a.action)).toEqual(['batch.submit', 'batch.finished', 'batch.retry', 'batch.finished']);
    expect(audit[2]).toMatchObject({ actor: `key:${me!.id}`, details: { images: [cutId], previousStatus: 'completed_with_errors' } });
    expect(audit[3]!.details).toMatchObject({ status: 'completed_with_errors', failed: 1, reopening: audit[2]!.details.retry });

    // The client that asked to hear when its batch finished hears it again.
    await until('the second webhook', () => (hooks.received.filter((h) => h.json.batch?.id === batchId).length >= 2 ? true : undefined), 30_000);
    expect(hooks.received.filter((h) => h.json.batch?.id === batchId)).toHaveLength(2);
  });

  it('skips a failed image while its batch has not finished, and retries it once it has', async () => {
    // The finalize job waits on the paused batches queue: the image has failed, its batch is still running.
    const batches = services.queues.get('batches')!;
    await batches.pause();
    let imageId: string;
    let id: string;
    try {
      const rocket = await readPhoto('rocket.jpg');
      const { body } = await submit(url, submitter, [{ name: 'cut again.jpg', bytes: rocket.subarray(0, 20_000) }]);
      id = body.id;
      imageId = body.images[0].id;
      await until('the image failed', async () => ((await list('?status=failed&q=again')).body.images.length === 1 ? true : undefined));
      const { status, body: answer } = await retry([imageId]);
      expect(status).toBe(200);
      expect(answer).toEqual({ retried: [], skipped: [{ id: imageId, reason: 'batch_unfinished', message: expect.stringContaining('running') }] });
    } finally {
      await batches.resume();
    }
    expect((await waitForBatch(url, viewer, id)).status).toBe('failed');
    const { body: again } = await retry([imageId]);
    expect(again).toEqual({ retried: [{ id: imageId, batchId: id }], skipped: [] });
    expect(await waitForBatch(url, viewer, id)).toMatchObject({ status: 'failed', progress: { total: 1, done: 0, failed: 1 } });
  });

  it('answers 400 for a bad body', async () => {
    expect((await retry([])).status).toBe(400);
    expect((await retry(['not-a-uuid'])).status).toBe(400);
  });
});
