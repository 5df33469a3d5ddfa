// GET /v1/stats on real data: the six photos and a cut-off JPEG through the
// real pipeline (the detect queue held back first, so the probes see a
// backlog), then the same bytes again (cache hits). The series over the last
// 15 minutes add up to the batches' counts, at the minute and at the hour
// resolution; latency and stage medians are there and plausible; the backlog
// the probes saw is there. Then the window rules and the 400s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncSchedules } from '../../src/producers/schedule-keeper.js';
import type { Services } from '../../src/runtime/services.js';
import { STATS_MAX_POINTS, type Stats } from '../../src/wire/stats.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let submitter: string;
let viewer: string;
let files: Array<{ name: string; bytes: Buffer }>;
const batches: Array<Record<string, any>> = [];

const MINUTE = 60_000;

async function waitFor<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stats(query: string, key: string | null = viewer): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}/v1/stats${query}`, key ? authed(key) : {});
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const sum = (points: Array<[number, number]>) => points.reduce((s, [, n]) => s + n, 0);
const values = (points: Array<[number, number | null]>) => points.map(([, v]) => v).filter((v): v is number => v !== null);

beforeAll(async () => {
  // A probe every second, so the backlog has samples within the test.
  env = await createTestEnv('stats', { HEALTH_INTERVAL: '1' });
  services = await env.open();
  url = (await env.api(services)).url;
  submitter = await env.key(services, 'submitter');
  viewer = await env.key(services, 'viewer');
  // Batches finalise and probes run (the scheduler `lookout worker` keeps); no detect worker yet.
  await env.worker(services, { queues: ['batches', 'health'] });
  await syncSchedules(services, ['health']);
  const rocket = await readPhoto('rocket.jpg');
  files = [
    ...(await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })))),
    { name: 'cut-off.jpg', bytes: rocket.subarray(0, Math.floor(rocket.length / 2)) }, // a real JPEG's first half
  ];
  const first = await submit(url, submitter, files);
  expect(first.status).toBe(202);
  // The probes record the 7 waiting jobs before any worker takes them.
  await waitFor('a probe that saw the backlog', async () => {
    const [row] = await env.sql<{ n: string }>('SELECT max(detect_waiting)::text AS n FROM health_checks');
    return Number(row?.n ?? 0) >= files.length ? true : undefined;
  });
  await env.worker(services, { queues: ['detect'] });
  batches.push(await waitForBatch(url, submitter, first.body.id));
  // The same bytes again: the six photos from the cache, the cut-off JPEG fails again.
  const again = await submit(url, submitter, files);
  batches.push(await waitForBatch(url, submitter, again.body.id));
}, 120_000);
afterAll(() => env.cleanup());

describe('after two batches of the six photos and a cut-off JPEG', () => {
  it('the batches are what the sums below rely on', () => {
    expect(batches.map((b) => b.progress)).toEqual([
      { total: 7, done: 6, failed: 1 },
      { total: 7, done: 6, failed: 1 },
    ]);
  });

  it('the last 15 minutes, per minute, add up to the batches: done, failed, cache hits', async () => {
    const until = new Date();
    const since = new Date(until.getTime() - 15 * MINUTE);
    const { status, body } = await stats(`?since=${since.toISOString()}&until=${until.toISOString()}&step=60`);
    expect(status).toBe(200);
    const s = body as Stats;
    expect(s.step).toBe(60);
    expect(sum(s.series.imagesDone)).toBe(12);
    expect(sum(s.series.imagesFailed)).toBe(2);
    expect(sum(s.series.cacheHits)).toBe(6);
  });

  it('every series has one point per minute, at the same times, each the start of its minute', async () => {
    const until = new Date();
    const since = new Date(until.getTime() - 15 * MINUTE);
    const s = (await stats(`?since=${since.toISOString()}&until=${until.toISOString()}&step=60`)).body as Stats;
    const times = s.series.imagesDone.map(([t]) => t);
    expect(times[0]).toBe(Math.floor(since.getTime() / MINUTE) * MINUTE);
    expect(times.length).toBe(Math.ceil(until.getTime() / MINUTE) - Math.floor(since.getTime() / MINUTE));
    times.forEach((t, i) => expect(t).toBe(times[0]! + i * MINUTE));
    const all = [
      s.series.imagesFailed,
      s.series.cacheHits,
      s.series.latencyP50Ms,
      s.series.latencyP95Ms,
      ...Object.values(s.series.stageP50Ms),
      s.series.detectWaiting,
    ];
    for (const series of all) expect(series.map(([t]) => t)).toEqual(times);
    // Minutes without images: 0 in the counts, null (a gap) in the percentiles.
    const empty = s.series.imagesDone.findIndex(([, n]) => n === 0);
    expect(empty).toBeGreaterThanOrEqual(0);
    expect(s.series.imagesFailed[empty]![1]).toBe(0);
    expect(s.series.latencyP50Ms[empty]![1]).toBeNull();
    expect(s.series.stageP50Ms.inference[empty]![1]).toBeNull();
  });

  it('latency and stage medians are there, where images finished, and plausible', async () => {
    const s = (await stats(`?since=${new Date(Date.now() - 15 * MINUTE).toISOString()}&step=60`)).body as Stats;
    const p50 = values(s.series.latencyP50Ms);
    const p95 = values(s.series.latencyP95Ms);
    expect(p50.length).toBeGreaterThan(0);
    // Queued to finished: the first batch waited for its worker, all within the test.
    for (const v of [...p50, ...p95]) expect(v).toBeGreaterThan(1);
    for (const v of [...p50, ...p95]) expect(v).toBeLessThan(120_000);
    s.series.latencyP50Ms.forEach(([, v], i) => {
      expect(v === null).toBe(s.series.imagesDone[i]![1] + s.series.imagesFailed[i]![1] === 0);
      if (v !== null) expect(s.series.latencyP95Ms[i]![1]).toBeGreaterThanOrEqual(v);
    });
    // The six photos ran the model once (the second batch came from the cache).
    const { inference, preprocess, decode, postprocess } = s.series.stageP50Ms;
    expect(values(inference).length).toBeGreaterThan(0);
    for (const v of values(inference)) expect(v).toBeGreaterThan(0.1); // blazeface on CPU: milliseconds
    for (const v of values(inference)) expect(v).toBeLessThan(10_000);
    for (const v of values(preprocess)) expect(v).toBeGreaterThan(0.1); // sharp decodes and resizes a photo
    for (const v of [...values(decode), ...values(postprocess)]) expect(v).toBeLessThan(1000);
    expect(values(decode).length).toBeGreaterThan(0);
    expect(values(postprocess).length).toBeGreaterThan(0);
    // Stage medians agree with the images' own timings: within the histogram's 4.4 % of one of them.
    const rows = await env.sql<{ ms: number }>(`SELECT (timings->>'inferenceMs')::float8 AS ms FROM images WHERE timings IS NOT NULL`);
    expect(rows).toHaveLength(6);
    for (const v of values(inference)) expect(rows.some((r) => Math.abs(v - r.ms) / r.ms <= 0.05)).toBe(true);
  });

  it('detectWaiting has the backlog the probes saw, and null where no probe ran', async () => {
    const s = (await stats(`?since=${new Date(Date.now() - 15 * MINUTE).toISOString()}&step=60`)).body as Stats;
    const waiting = values(s.series.detectWaiting);
    expect(waiting.length).toBeGreaterThan(0);
    expect(Math.max(...waiting)).toBeGreaterThanOrEqual(7);
    // Before the test's database existed no probe ran.
    expect(s.series.detectWaiting[0]![1]).toBeNull();
  });

  it('the same sums at the hour resolution (a step of whole hours) and with merged minutes (300 s)', async () => {
    for (const step of [3600, 300]) {
      const s = (await stats(`?since=${new Date(Date.now() - 15 * MINUTE).toISOString()}&step=${step}`)).body as Stats;
      expect(s.step).toBe(step);
      expect([sum(s.series.imagesDone), sum(s.series.imagesFailed)]).toEqual([12, 2]);
      expect(sum(s.series.cacheHits)).toBe(6);
      expect(values(s.series.latencyP50Ms).length).toBeGreaterThan(0);
      expect(values(s.series.stageP50Ms.inference).length).toBeGreaterThan(0);
      expect(values(s.series.detectWaiting).length).toBeGreaterThan(0);
    }
  });

  it('a window with no images: counts 0, percentiles and backlog null', async () => {
    const s = (await stats('?since=2020-01-01T00:00:00Z&until=2020-01-01T01:00:00Z')).body as Stats;
    expect(s.step).toBe(60);
    expect(s.series.imagesDone).toHaveLength(60);
    expect(s.series.imagesDone[0]).toEqual([Date.UTC(2020, 0, 1), 0]);
    expect(sum(s.series.imagesDone)).toBe(0);
    expect(values(s.series.latencyP95Ms)).toEqual([]);
    expect(values(s.series.detectWaiting)).toEqual([]);
  });
});

describe('the window', () => {
  it('defaults to the last hour at 60 s', async () => {
    const before = Date.now();
    const { status, body } = await stats('');
    expect(status).toBe(200);
    expect(body.step).toBe(60);
    const times = (body as Stats).series.imagesDone.map(([t]) => t);
    expect(times.length).toBeGreaterThanOrEqual(60);
    expect(times.length).toBeLessThanOrEqual(61);
    expect(times.at(-1)).toBe(Math.floor(before / MINUTE) * MINUTE);
  });

  it('picks a default step that keeps a day to 288 points and a week to 168, and rounds a step up to the rollup', async () => {
    const until = '2026-11-30T00:00:00Z';
    const day = (await stats(`?since=2026-11-29T00:00:00Z&until=${until}`)).body as Stats;
    expect([day.step, day.series.imagesDone.length]).toEqual([300, 288]);
    const week = (await stats(`?since=2026-11-23T00:00:00Z&until=${until}`)).body as Stats;
    expect([week.step, week.series.imagesDone.length]).toEqual([3600, 168]);
    expect(((await stats(`?since=2026-11-29T23:00:00Z&until=${until}&step=1`)).body as Stats).step).toBe(60);
    expect(((await stats(`?since=2026-11-29T23:00:00Z&until=${until}&step=90`)).body as Stats).step).toBe(120);
    expect(((await stats(`?since=2026-11-29T00:00:00Z&until=${until}&step=5400`)).body as Stats).step).toBe(7200);
    // 24 h at 60 s, the benchmark's query, is within the limit.
    expect(((await stats(`?since=2026-11-29T00:00:00Z&until=${until}&step=60`)).body as Stats).series.imagesDone).toHaveLength(1440);
  });
});

describe('validation', () => {
  const refused = async (query: string, message: RegExp) => {
    const { status, body } = await stats(query);
    expect(status, query).toBe(400);
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toMatch(message);
  };

  it('since must be before until', async () => {
    await refused('?since=2026-11-30T00:00:00Z&until=2026-11-30T00:00:00Z', /since \(2026-11-30T00:00:00.000Z\) must be before until/);
    await refused('?since=2026-11-30T01:00:00Z&until=2026-11-30T00:00:00Z', /must be before until/);
  });

  it('step must be a whole number of seconds, at least 1', async () => {
    await refused('?step=0', /^step: expected a whole number of seconds, at least 1/);
    await refused('?step=-60', /^step: expected a whole number of seconds/);
    await refused('?step=1.5', /^step: expected a whole number of seconds/);
    await refused('?step=abc', /^step: expected a whole number of seconds/);
  });

  it('too many points names the limit and the step that fits', async () => {
    await refused(
      '?since=2026-11-23T00:00:00Z&until=2026-11-30T00:00:00Z&step=60',
      new RegExp(`10080 points, more than the ${STATS_MAX_POINTS} allowed: ask for step=360 or more, or a shorter window`),
    );
    // The step it names fits.
    expect((await stats('?since=2026-11-23T00:00:00Z&until=2026-11-30T00:00:00Z&step=360')).status).toBe(200);
  });

  it('times must be ISO 8601 with a zone', async () => {
    for (const bad of ['yesterday', '2026-11-30', '2026-11-30T00:00:00', '2026-02-30T00:00:00Z', '1764460800000']) {
      await refused(`?since=${encodeURIComponent(bad)}`, /^since: expected an ISO 8601 time with its zone/);
    }
    await refused('?until=noon', /^until: expected an ISO 8601 time with its zone/);
  });

  it('unknown parameters are refused', async () => {
    await refused('?from=2026-11-30T00:00:00Z', /from/);
  });
});

describe('who may read it', () => {
  it('a viewer key may; no key is 401', async () => {
    expect((await stats('', viewer)).status).toBe(200);
    const none = await stats('', null);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
  });

  it('/openapi.json describes it for viewers', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as Record<string, any>;
    const op = doc.paths['/v1/stats'].get;
    expect(op['x-lookout-role']).toBe('viewer');
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(['since', 'until', 'step']);
    expect(Object.keys(op.responses['200'].content['application/json'].schema.properties.series.properties)).toEqual([
      'imagesDone',
      'imagesFailed',
      'cacheHits',
      'latencyP50Ms',
      'latencyP95Ms',
      'stageP50Ms',
      'detectWaiting',
    ]);
  });
});
