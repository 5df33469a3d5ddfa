// Image-list part of `npm run bench`: GET /v1/images's statement (listImages,
// the SQL the route runs) over a generated images table of `rows` rows
// (generate-image-rows.ts), each filter a person uses on the failures page,
// first page and the page after it (cursor), `samples` times each; how long
// migration 0012 takes to build its indexes on that table; and what those
// indexes cost each image's status writes (a claim and an answer), measured
// twice each way, alternately.
import { createPool } from '../db/pool.js';
import { generateImageRows, imagesTableFacts, timeStatusWrites } from '../db/generate-image-rows.js';
import { listImages, type ImageListFilter } from '../db/repositories/image-list.js';
import { migrateDown, migrateUp } from '../db/migrate.js';
import { ensureDatabase } from '../db/pool.js';
import { openBenchScratch } from './bench-scratch.js';
import { percentile } from './stats.js';

export interface ImageListCase {
  name: string;
  rows: number;
  firstP50Ms: number;
  firstP95Ms: number;
  nextP50Ms: number;
  nextP95Ms: number;
}

export interface ImageListBenchResult {
  rows: number;
  tableMb: number;
  generateSeconds: number;
  migrationSeconds: number;
  trigramIndex: boolean;
  cases: ImageListCase[];
  /** Mean µs per image of its two status writes, with and without migration 0012's indexes. */
  statusWritesUs: { with: number; without: number };
}

const DAY_MS = 86_400_000;

/** The filters measured: a page of 50 each. */
function cases(now: number): Array<{ name: string; filter: Omit<ImageListFilter, 'limit' | 'after'> }> {
  return [
    { name: 'newest, no filter', filter: {} },
    { name: 'status=failed', filter: { status: 'failed' } },
    { name: 'status=failed&error=blob_missing', filter: { status: 'failed', errorCode: 'blob_missing' } },
    { name: 'error=unsupported_format', filter: { errorCode: 'unsupported_format' } },
    { name: 'status=failed&model=yolov8n', filter: { status: 'failed', model: 'yolov8n' } },
    { name: 'model=yolov8n', filter: { model: 'yolov8n' } },
    { name: 'status=queued', filter: { status: 'queued' } },
    { name: 'q=12345 (rare)', filter: { filenameContains: '12345' } },
    { name: 'q=cat (one name in five)', filter: { filenameContains: 'cat' } },
    { name: 'q=jpg (most names)', filter: { filenameContains: 'jpg' } },
    { name: 'status=failed&q=scan', filter: { status: 'failed', filenameContains: 'scan' } },
    { name: 'status=failed, a day a week ago', filter: { status: 'failed', since: new Date(now - 8 * DAY_MS), before: new Date(now - 7 * DAY_MS) } },
    // Worst cases: filters that match nothing, so a page is a walk to the end of what the index can narrow.
    { name: 'model=resnet (no such rows)', filter: { model: 'resnet' } },
    { name: 'status=failed&model=resnet (none)', filter: { status: 'failed', model: 'resnet' } },
    { name: 'q=zqx (three letters, none)', filter: { filenameContains: 'zqx' } },
    {
      name: 'status=done, an hour 20 days ago',
      filter: { status: 'done', since: new Date(now - 20 * DAY_MS), before: new Date(now - 20 * DAY_MS + 3_600_000) },
    },
  ];
}

export async function runImageListBench(options: {
  rows: number;
  samples: number;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}): Promise<ImageListBenchResult> {
  const scratch = await openBenchScratch(options.env, 'image-list');
  await ensureDatabase(scratch.config.databaseUrl);
  const pool = createPool(scratch.config.databaseUrl, 2);
  try {
    await migrateUp(pool);
    // The table is filled without 0012's indexes, then the migration is timed building them, as on an existing fleet.
    await migrateDown(pool, 1);
    let started = performance.now();
    const rows = await generateImageRows(pool, options.rows, 30, (n) => {
      if (n % 500_000 === 0) options.log(`image-list: ${n} rows`);
    });
    const generateSeconds = (performance.now() - started) / 1000;
    // Status writes alternately without and with the indexes (the first, a warm-up, not counted).
    await timeStatusWrites(pool, 1000, 0);
    const without = [await timeStatusWrites(pool, 2000, 1000)];
    started = performance.now();
    await migrateUp(pool);
    const migrationSeconds = (performance.now() - started) / 1000;
    const withIndexes = [await timeStatusWrites(pool, 2000, 3000)];
    await migrateDown(pool, 1);
    without.push(await timeStatusWrites(pool, 2000, 5000));
    await migrateUp(pool);
    withIndexes.push(await timeStatusWrites(pool, 2000, 7000));
    const facts = await imagesTableFacts(pool);
    const result: ImageListBenchResult = {
      rows,
      tableMb: facts.mb,
      generateSeconds,
      migrationSeconds,
      trigramIndex: facts.trigramIndex,
      cases: [],
      statusWritesUs: { with: (withIndexes[0]! + withIndexes[1]!) / 2, without: (without[0]! + without[1]!) / 2 },
    };
    for (const c of cases(Date.now())) {
      const first: number[] = [];
      const next: number[] = [];
      let found = 0;
      for (let s = 0; s <= options.samples; s++) {
        let t = performance.now();
        const page = await listImages(pool, { ...c.filter, limit: 51 });
        const firstMs = performance.now() - t;
        found = Math.min(page.length, 50);
        const last = page[49];
        t = performance.now();
        if (last) await listImages(pool, { ...c.filter, limit: 51, after: { listedAt: last.listedAt, id: last.id } });
        const nextMs = performance.now() - t;
        // The first run of each warms the cache; it is not counted.
        if (s === 0) continue;
        first.push(firstMs);
        if (last) next.push(nextMs);
      }
      const row: ImageListCase = {
        name: c.name,
        rows: found,
        firstP50Ms: percentile(first, 50),
        firstP95Ms: percentile(first, 95),
        nextP50Ms: percentile(next, 50),
        nextP95Ms: percentile(next, 95),
      };
      result.cases.push(row);
      options.log(`image-list ${c.name}: p50 ${row.firstP50Ms.toFixed(1)} ms, p95 ${row.firstP95Ms.toFixed(1)} ms`);
    }
    return result;
  } finally {
    await pool.end();
    await scratch.remove();
  }
}
