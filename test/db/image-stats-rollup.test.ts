// The images rollup (migration 0011) equals what the images table holds, at
// every resolution, after concurrent workers finish images through the real
// repository statements (results, cache hits, failures), jobs finish the same
// image again (redelivered), rows are moved in time, a batch is deleted with
// its images, and folds run all the while. Its bins are the ones
// src/db/stats-histogram.ts reads. The migration backfills what is already
// there, and goes down and up again.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDown, migrateUp } from '../../src/db/migrate.js';
import { MIGRATIONS } from '../../src/db/migrations/index.js';
import { copyCachedResult, failImage, saveImageResult } from '../../src/db/repositories/images.js';
import { foldImageStats } from '../../src/db/repositories/image-stats.js';
import { BIN_OF_1MS, binLowerMs, binMiddleMs, quantileMs, RELATIVE_ERROR, reportedMs, TOP_BIN, type Histogram } from '../../src/db/stats-histogram.js';
import type { DetectionResult } from '../../src/detection/index.js';
import { fleetStats, resolveStatsWindow } from '../../src/health/fleet-stats.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let workers: pg.Pool;

beforeAll(async () => {
  env = await createTestEnv('rollup');
  services = await env.open();
  workers = new pg.Pool({ connectionString: env.env.DATABASE_URL, max: 8 });
  workers.on('error', () => undefined); // an idle client cut when the database is dropped
});
afterAll(async () => {
  await workers.end();
  await env.cleanup();
});

const METRICS = ['latency', 'decode', 'preprocess', 'inference', 'postprocess'] as const;
type Metric = (typeof METRICS)[number];
interface Bucket {
  done: number;
  failed: number;
  cacheHits: number;
  hists: Record<Metric, Histogram>;
}

/** The bin of a time, computed here from the documented edges (not with the migration's SQL). */
function binOf(ms: number): number {
  if (ms < binLowerMs(1)) return 0;
  return Math.min(TOP_BIN, Math.floor(8 * Math.log2(ms)) + BIN_OF_1MS);
}

/** What the rollup must hold, computed from the images rows themselves. */
async function expectedRollup(): Promise<Map<string, Bucket>> {
  const rows = await env.sql<{ status: string; cache_hit: boolean; finished: number; latency: number; timings: Record<string, unknown> | null }>(
    `SELECT status, cache_hit, extract(epoch FROM finished_at)::float8 * 1000 AS finished,
            extract(epoch FROM finished_at - created_at)::float8 * 1000 AS latency, timings
       FROM images WHERE status IN ('done', 'failed') AND finished_at IS NOT NULL`,
  );
  const out = new Map<string, Bucket>();
  for (const r of rows) {
    for (const resolution of [60, 300, 3600]) {
      const key = `${resolution}/${Math.floor(r.finished / (resolution * 1000)) * resolution * 1000}`;
      const b = out.get(key) ?? { done: 0, failed: 0, cacheHits: 0, hists: { latency: {}, decode: {}, preprocess: {}, inference: {}, postprocess: {} } };
      out.set(key, b);
      if (r.status === 'done') b.done++;
      else b.failed++;
      if (r.status === 'done' && r.cache_hit) b.cacheHits++;
      const add = (metric: Metric, ms: number) => {
        const bin = String(binOf(ms));
        b.hists[metric][bin] = (b.hists[metric][bin] ?? 0) + 1;
      };
      add('latency', r.latency);
      if (r.status === 'done' && !r.cache_hit && r.timings) {
        for (const stage of ['decode', 'preprocess', 'inference', 'postprocess'] as const) add(stage, r.timings[`${stage}Ms`] as number);
      }
    }
  }
  return out;
}

/** The rollup as stored (buckets that came back to nothing left out). */
async function storedRollup(): Promise<Map<string, Bucket>> {
  const rows = await env.sql<Record<string, any>>(
    `SELECT resolution, (extract(epoch FROM bucket) * 1000)::float8 AS t, done, failed, cache_hits, latency_ms, decode_ms, preprocess_ms, inference_ms, postprocess_ms
       FROM image_stats_rollup`,
  );
  const out = new Map<string, Bucket>();
  for (const r of rows) {
    if (r.done === 0 && r.failed === 0) {
      for (const m of METRICS) expect(r[`${m}_ms`], 'an empty bucket has empty histograms').toEqual({});
      continue;
    }
    out.set(`${r.resolution}/${r.t}`, {
      done: r.done,
      failed: r.failed,
      cacheHits: r.cache_hits,
      hists: Object.fromEntries(METRICS.map((m) => [m, r[`${m}_ms`]])) as Record<Metric, Histogram>,
    });
  }
  return out;
}

/** Every bucket's stored percentiles (bins, kept by a trigger) are what stats-histogram.ts reads from its histograms. */
async function expectStoredQuantiles(): Promise<void> {
  const rows = await env.sql<Record<string, any>>(`SELECT * FROM image_stats_rollup`);
  const asMs = (bin: number | null) => (bin === null ? null : reportedMs(bin));
  for (const r of rows) {
    const where = `${r.resolution} ${r.bucket}`;
    expect(asMs(r.latency_p50_bin), where).toBe(quantileMs(r.latency_ms, 0.5));
    expect(asMs(r.latency_p95_bin), where).toBe(quantileMs(r.latency_ms, 0.95));
    for (const stage of ['decode', 'preprocess', 'inference', 'postprocess']) {
      expect(asMs(r[`${stage}_p50_bin`]), `${where} ${stage}`).toBe(quantileMs(r[`${stage}_ms`], 0.5));
    }
  }
  expect(rows.some((r) => r.latency_p95_bin !== r.latency_p50_bin)).toBe(true);
}

const sorted = (m: Map<string, Bucket>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));

async function newBatch(images: number, queuedMinutesAgo: () => number): Promise<string[]> {
  const batch = randomUUID();
  await env.sql(`INSERT INTO batches (id, model, min_score, total, created_by) VALUES ($1, 'blazeface-back', 0.75, $2, 'test')`, [batch, images]);
  const ids = Array.from({ length: images }, () => randomUUID());
  for (const [n, id] of ids.entries()) {
    await env.sql(
      `INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, model, min_score, created_at)
       VALUES ($1, $2, $3, $4, $5, 1000, $5, 'blazeface-back', 0.75, now() - make_interval(secs => $6))`,
      [id, batch, n, `p${n}.png`, 'a'.repeat(63) + (n % 10), queuedMinutesAgo() * 60],
    );
  }
  return ids;
}

const result = (): DetectionResult => ({
  width: 640,
  height: 480,
  model: { name: 'blazeface-back', version: '1.2.0', sha256: 'f'.repeat(64) },
  detections: [{ label: 'face', score: 0.9, box: { x1: 1, y1: 2, x2: 30, y2: 40 } }],
  // Spread over many bins, from microseconds to seconds.
  timings: { decodeMs: Math.random() * 2, preprocessMs: 2 + Math.random() * 40, inferenceMs: Math.exp(Math.random() * 8), postprocessMs: Math.random() / 5 },
});

describe('the bins', () => {
  it('image_stats_bin puts a time in the bin whose documented edges hold it', async () => {
    const times = [0, -5, 1e-6, 2 ** -10, 0.001, 0.01, 0.5, 1, 1.05, 1.1, 2, 3.3, 17, 999, 1000, 86_400_000, 2 ** 31, 1e15];
    const rows = await env.sql<{ bin: number }>('SELECT image_stats_bin(x)::int AS bin FROM unnest($1::float8[]) WITH ORDINALITY AS u (x, n) ORDER BY n', [
      times,
    ]);
    rows.forEach(({ bin }, i) => {
      const ms = times[i]!;
      expect(bin, `bin of ${ms} ms`).toBe(binOf(ms));
      if (bin > 0) expect(binLowerMs(bin)).toBeLessThanOrEqual(ms);
      if (bin < TOP_BIN) expect(ms).toBeLessThan(binLowerMs(bin + 1));
    });
    expect((await env.sql(`SELECT image_stats_bin('NaN') AS b, image_stats_bin(NULL) AS c`))[0]).toEqual({ b: null, c: null });
  });

  it('a quantile is the middle of the nearest-rank bin, within 4.43 % of any time in it', () => {
    expect(RELATIVE_ERROR).toBeCloseTo(0.0443, 4);
    expect(quantileMs({}, 0.5)).toBeNull();
    expect(quantileMs({ 80: 1 }, 0.5)).toBe(Number(binMiddleMs(80).toPrecision(4)));
    const h = { 80: 50, 100: 0, 120: 45, 160: 5 };
    expect(quantileMs(h, 0.5)).toBe(Number(binMiddleMs(80).toPrecision(4)));
    expect(quantileMs(h, 0.51)).toBe(Number(binMiddleMs(120).toPrecision(4)));
    expect(quantileMs(h, 0.95)).toBe(Number(binMiddleMs(120).toPrecision(4)));
    expect(quantileMs(h, 0.96)).toBe(Number(binMiddleMs(160).toPrecision(4)));
    for (const ms of [0.002, 0.7, 1, 33.3, 1234, 3_600_000]) {
      const middle = binMiddleMs(binOf(ms));
      expect(Math.abs(middle - ms) / ms).toBeLessThanOrEqual(RELATIVE_ERROR + 1e-12);
    }
  });
});

describe('the rollup under concurrent workers, redeliveries, moves and deletes', () => {
  it('equals the images table at every resolution, each image counted once', async () => {
    const ids = await newBatch(240, () => Math.random() * 90);
    const doomed = await newBatch(30, () => Math.random() * 5);
    const claim = (id: string) => workers.query(`UPDATE images SET status = 'running', attempts = attempts + 1 WHERE id = $1`, [id]);
    // The first image is the cache's source for the others that hit it.
    await claim(ids[0]!);
    await saveImageResult(workers, ids[0]!, result(), 'w0');
    const source = { id: ids[0]!, width: 640, height: 480, modelVersion: '1.2.0', modelSha256: 'f'.repeat(64) };
    let folds = 0;
    let running = true;
    const folder = (async () => {
      while (running) {
        await foldImageStats(workers);
        folds++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const work = [...ids.slice(1), ...doomed];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let id = work.pop(); id; id = work.pop()) {
          await claim(id);
          const roll = Math.random();
          if (roll < 0.5) await saveImageResult(workers, id, result(), `w${w}`);
          else if (roll < 0.75) expect(await copyCachedResult(workers, id, source, `w${w}`)).toBe(1);
          else await failImage(workers, id, { code: 'corrupt_image', message: 'cut off' }, `w${w}`);
          // A redelivered job finishes the same image again: its old contribution is replaced.
          if (Math.random() < 0.3) await saveImageResult(workers, id, result(), `w${w}`);
        }
      }),
    );
    // Rows moved in time (other minutes and hours), and untouched columns changed: nothing counted twice.
    await env.sql(`UPDATE images SET finished_at = finished_at - make_interval(mins => position % 150) WHERE position % 3 = 0`);
    await env.sql(`UPDATE images SET worker_id = 'renamed'`);
    // A batch deleted: its images cascade out.
    await env.sql(`DELETE FROM batches WHERE id = (SELECT batch_id FROM images WHERE id = $1)`, [doomed[0]]);
    running = false;
    await folder;
    expect(folds).toBeGreaterThan(1);
    await foldImageStats(services.pool);
    expect((await env.sql('SELECT 1 FROM image_stats_pending')).length).toBe(0);
    const expected = await expectedRollup();
    expect([...expected.keys()].filter((k) => k.startsWith('60/')).length).toBeGreaterThan(10); // many minutes
    expect([...expected.keys()].filter((k) => k.startsWith('3600/')).length).toBeGreaterThan(1); // more than one hour
    expect(sorted(await storedRollup())).toEqual(sorted(expected));
    const [total] = await env.sql<{ n: string }>(`SELECT sum(done + failed)::text AS n FROM image_stats_rollup WHERE resolution = 60`);
    expect(Number(total!.n)).toBe(240);
    await expectStoredQuantiles();
  });

  it('an image claimed again (queued, running) leaves nothing behind; a rolled-back finish leaves nothing', async () => {
    const before = sorted(await storedRollup());
    const [id] = await env.sql<{ id: string }>(`SELECT id FROM images WHERE status = 'failed' LIMIT 1`);
    await env.sql(`UPDATE images SET status = 'queued', finished_at = NULL, error_code = NULL WHERE id = $1`, [id!.id]);
    const client = await workers.connect();
    try {
      await client.query('BEGIN');
      await saveImageResult(client, id!.id, result(), 'w9');
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await foldImageStats(services.pool);
    const after = sorted(await storedRollup());
    expect(after).toEqual(sorted(await expectedRollup()));
    expect(after).not.toEqual(before); // the failure re-queued is out of its bucket
  });
});

describe('GET /v1/stats reads after a fold', () => {
  it('counts an image finished a moment ago, with no probe running to fold it', async () => {
    const [id] = await newBatch(1, () => 0.5);
    await saveImageResult(services.pool, id!, result(), 'w-now');
    expect((await env.sql('SELECT 1 FROM image_stats_pending')).length).toBe(1);
    const resolved = resolveStatsWindow({ since: new Date(Date.now() - 120_000) }, new Date());
    if ('error' in resolved) throw new Error(resolved.error);
    const stats = await fleetStats(services.pool, resolved.window);
    expect(stats.series.imagesDone.reduce((n, [, done]) => n + done, 0)).toBeGreaterThanOrEqual(1);
    expect((await env.sql('SELECT 1 FROM image_stats_pending')).length).toBe(0);
  });
});

describe('migration 0011', () => {
  const steps = MIGRATIONS.length - MIGRATIONS.findIndex((m) => m.name === '0011-image-stats-rollup');
  const relations = async () =>
    (
      await env.sql<{ name: string }>(
        `SELECT relname AS name FROM pg_class WHERE relname LIKE 'image_stats%'
         UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'image_stats%'
         UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE 'image_stats%'
         UNION ALL SELECT attname FROM pg_attribute WHERE attrelid = 'health_checks'::regclass AND attname = 'detect_waiting' AND NOT attisdropped
         ORDER BY 1`,
      )
    ).map((r) => r.name);

  it('down removes the rollup, its triggers and functions and health_checks.detect_waiting; up counts the images already there', async () => {
    expect(await relations()).toHaveLength(16); // 2 tables, 1 primary key index, 8 functions, 4 triggers; the column
    expect(await migrateDown(services.pool, steps)).toContain('0011-image-stats-rollup');
    expect(await relations()).toEqual([]);
    // Images finished while the rollup was away, and a probe's backlog.
    const more = await newBatch(20, () => 30 + Math.random() * 600);
    for (const id of more) await saveImageResult(services.pool, id, result(), 'w-before');
    await env.sql(`INSERT INTO health_checks (status, components) VALUES ('ok', $1)`, [
      JSON.stringify([{ name: 'queue.detect.backlog', status: 'ok', value: 42, threshold: 1000, message: '42 waiting' }]),
    ]);
    expect(await migrateUp(services.pool)).toContain('0011-image-stats-rollup');
    expect(await relations()).toHaveLength(16);
    expect(sorted(await storedRollup())).toEqual(sorted(await expectedRollup()));
    await expectStoredQuantiles();
    expect((await env.sql<{ n: string }>(`SELECT max(detect_waiting)::text AS n FROM health_checks`))[0]!.n).toBe('42');
  });
});
