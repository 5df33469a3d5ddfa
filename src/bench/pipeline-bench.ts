// Pipeline part of `npm run bench`: images through HTTP → queue → worker →
// Postgres in one `lookout all`-shaped process, against the bare loop over the
// same images in the same run, plus submit-to-result latency of one-image
// batches on an idle fleet. Uses its own database and queue prefix on the
// Redis and Postgres it is pointed at, and removes them afterwards.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApiKey } from '../auth/api-keys.js';
import { loadConfig } from '../config/config.js';
import { ModelRegistry } from '../detection/index.js';
import { OPS_QUEUES, prepareDatabase, startApi, startWorkerProcess } from '../runtime/processes.js';
import { openServices } from '../runtime/services.js';
import { bareLoop, median, type Row } from './engine-bench.js';

export interface PipelineBenchOptions {
  photos: string[];
  images: number;
  batchSize: number;
  latencySamples: number;
  env: Record<string, string | undefined>;
}

export interface PipelineBenchResult {
  images: number;
  batches: number;
  concurrency: number;
  seconds: number;
  pipelineImagesPerSec: number;
  /** Queue → worker → Postgres alone: uploaded first with the detect queue paused, then timed. */
  processingImagesPerSec: number;
  bare: Row[];
  bareImagesPerSec: number;
  ratio: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

/** Unique copies of the photos (a trailer after the image data): same decode work, no cache hits. */
async function writeVariants(photos: string[], count: number, dir: string, tag: string): Promise<string[]> {
  const originals = await Promise.all(photos.map(async (p) => ({ name: path.basename(p), bytes: await readFile(p) })));
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const o = originals[i % originals.length]!;
      const file = path.join(dir, `${tag}-${i}-${o.name}`);
      await writeFile(file, Buffer.concat([o.bytes, Buffer.from(`lookout-bench:${tag}:${i}`)]));
      return file;
    }),
  );
}

async function upload(url: string, key: string, files: string[]): Promise<string> {
  const form = new FormData();
  for (const f of files) form.append('images', new Blob([await readFile(f)]), path.basename(f));
  const res = await fetch(`${url}/v1/batches`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { id?: string; error?: unknown };
  if (res.status !== 202 || !body.id) throw new Error(`upload failed: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

async function waitDone(url: string, key: string, id: string, pollMs: number): Promise<void> {
  for (;;) {
    const res = await fetch(`${url}/v1/batches/${id}`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as { status: string };
    if (body.status === 'completed') return;
    if (body.status !== 'queued' && body.status !== 'running') throw new Error(`batch ${id} ended ${body.status}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function runPipelineBench(options: PipelineBenchOptions): Promise<PipelineBenchResult> {
  const tag = randomBytes(3).toString('hex');
  const work = await mkdtemp(path.join(os.tmpdir(), 'lookout-bench-'));
  const adminUrl = new URL(options.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/lookout_bench_${tag}`;
  adminUrl.pathname = '/postgres';
  const prefix = `bench_${tag}`;
  const config = loadConfig({
    ...options.env,
    DATABASE_URL: dbUrl.toString(),
    LOOKOUT_QUEUE_PREFIX: prefix,
    BLOB_DIR: path.join(work, 'blobs'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  });
  const logger = pino({ level: 'warn' });
  const files = await writeVariants(options.photos, options.images, work, 'load');
  const latencyFiles = await writeVariants(options.photos, options.latencySamples, work, 'latency');
  const spec = new ModelRegistry().get(config.detect.model);

  // The bare loop first, on an idle machine, over the same images, with the
  // worker's onnxruntime threads, at 1, 2 and the worker's concurrency.
  const bare: Row[] = [];
  for (const pipelines of [...new Set([1, 2, config.worker.concurrency])]) {
    bare.push(await bareLoop(spec, files, files.length, pipelines, config.detect.intraOpThreads));
  }

  const services = openServices(config, logger);
  try {
    await prepareDatabase(services);
    const detect = await startWorkerProcess(services, { queues: ['detect'], concurrency: config.worker.concurrency });
    const ops = await startWorkerProcess(services, { queues: OPS_QUEUES, concurrency: 4 });
    const api = await startApi(services, 0);
    const url = `http://127.0.0.1:${api.port}`;
    try {
      const { token } = await createApiKey(services.pool, { name: 'bench', role: 'submitter', actor: 'bench' });
      await waitDone(url, token, await upload(url, token, await writeVariants(options.photos, 6, work, 'warm')), 20);

      const submitAll = async (set: string[]) => {
        const ids: string[] = [];
        for (let i = 0; i < set.length; i += options.batchSize) ids.push(await upload(url, token, set.slice(i, i + options.batchSize)));
        return ids;
      };
      const started = performance.now();
      const ids = await submitAll(files);
      for (const id of ids) await waitDone(url, token, id, 20);
      const seconds = (performance.now() - started) / 1000;

      // The same work with the upload taken out of the timing.
      const detectQueue = services.queues.get('detect')!;
      await detectQueue.pause();
      const again = await submitAll(await writeVariants(options.photos, options.images, work, 'processing'));
      const resumed = performance.now();
      await detectQueue.resume();
      for (const id of again) await waitDone(url, token, id, 20);
      const processingSeconds = (performance.now() - resumed) / 1000;

      const latencies: number[] = [];
      for (const file of latencyFiles) {
        const t0 = performance.now();
        await waitDone(url, token, await upload(url, token, [file]), 5);
        latencies.push(performance.now() - t0);
      }

      const pipelineImagesPerSec = files.length / seconds;
      const bareImagesPerSec = Math.max(...bare.map((r) => r.images / r.seconds));
      return {
        images: files.length,
        batches: ids.length,
        concurrency: config.worker.concurrency,
        seconds,
        pipelineImagesPerSec,
        processingImagesPerSec: files.length / processingSeconds,
        bare,
        bareImagesPerSec,
        ratio: pipelineImagesPerSec / bareImagesPerSec,
        latencyP50Ms: median(latencies),
        latencyP95Ms: percentile(latencies, 95),
      };
    } finally {
      await api.close();
      await detect.close(5000);
      await ops.close(5000);
    }
  } finally {
    await services.close();
    const redis = new Redis(config.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbUrl.pathname.slice(1))} WITH (FORCE)`);
    await admin.end();
    await rm(work, { recursive: true, force: true });
  }
}
