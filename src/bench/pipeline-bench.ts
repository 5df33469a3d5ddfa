// Pipeline part of `npm run bench`: images through HTTP → queue → worker →
// Postgres in one `lookout all`-shaped process, against the bare loop over the
// same images in the same run, plus submit-to-result latency of one-image
// batches on an idle fleet. Uses its own database and queue prefix on the
// Redis and Postgres it is pointed at, and removes them afterwards.

import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { createApiKey } from '../auth/api-keys.js';
import { ModelRegistry } from '../detection/index.js';
import { prepareDatabase } from '../runtime/prepare-database.js';
import { startApi } from '../api/server.js';
import { OPS_QUEUES, startWorkerProcess } from '../workers/worker-process.js';
import { openServices, type Services } from '../runtime/services.js';
import { bareLoop, median, type Row } from './engine-bench.js';
import { openBenchScratch } from './bench-scratch.js';
import { percentile } from './stats.js';

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
  /** Machine-wide busy CPU per image (all processes: Node, Postgres, Redis), in core-milliseconds. */
  coreMsPerImage: { pipeline: number; processing: number; bare: number };
  bare: Row[];
  bareImagesPerSec: number;
  ratio: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
}

/** Unique copies of the photos (a trailer after the image data): same decode work, no cache hits. */
export async function writeVariants(photos: string[], count: number, dir: string, tag: string): Promise<string[]> {
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

/** Request bodies built before any timing starts: reading the client's files is not Lookout's work. */
export async function buildForms(files: string[], batchSize: number): Promise<FormData[]> {
  const forms: FormData[] = [];
  for (let i = 0; i < files.length; i += batchSize) {
    const form = new FormData();
    for (const f of files.slice(i, i + batchSize)) form.append('images', new Blob([await readFile(f)]), path.basename(f));
    forms.push(form);
  }
  return forms;
}

/** Busy and total core-milliseconds of the whole machine so far (Linux /proc/stat), for CPU per image. */
export function cpuSample(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) * 10, total: total * 10 }; // USER_HZ = 100
  } catch {
    return undefined;
  }
}

export const busySince = (start: ReturnType<typeof cpuSample>): number => {
  const now = cpuSample();
  return start && now ? now.busy - start.busy : NaN;
};

export async function upload(url: string, key: string, form: FormData): Promise<string> {
  const res = await fetch(`${url}/v1/batches`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { id?: string; error?: unknown };
  if (res.status !== 202 || !body.id) throw new Error(`upload failed: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

export async function waitDone(url: string, key: string, id: string, pollMs: number): Promise<void> {
  for (;;) {
    const res = await fetch(`${url}/v1/batches/${id}`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as { status: string };
    if (body.status === 'completed') return;
    if (body.status !== 'queued' && body.status !== 'running') throw new Error(`batch ${id} ended ${body.status}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** `lookout all` in this process, for a bench: its URL, a submitter key, and close(). */
export interface RunningLookout {
  url: string;
  token: string;
  close(): Promise<void>;
}

/**
 * Migrates, starts a detect worker (the config's concurrency), an ops worker
 * and the API on a free port over `services`, makes a submitter key, and runs
 * one warm-up batch of 6 photo variants (written under `work`, named by
 * `warmTag`), so a round's first images pay no model load. close() stops the
 * API and both workers (not the services).
 */
export async function startLookoutAll(services: Services, options: { photos: string[]; work: string; warmTag: string }): Promise<RunningLookout> {
  await prepareDatabase(services);
  const detect = await startWorkerProcess(services, { queues: ['detect'], concurrency: services.config.worker.concurrency });
  const ops = await startWorkerProcess(services, { queues: OPS_QUEUES, concurrency: 4 });
  const api = await startApi(services, 0);
  const close = async () => {
    await api.close();
    await detect.close(5000);
    await ops.close(5000);
  };
  try {
    const url = `http://127.0.0.1:${api.port}`;
    const { token } = await createApiKey(services.pool, { name: 'bench', role: 'submitter', actor: 'bench' });
    const [warm] = await buildForms(await writeVariants(options.photos, 6, options.work, options.warmTag), 6);
    await waitDone(url, token, await upload(url, token, warm!), 20);
    return { url, token, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function runPipelineBench(options: PipelineBenchOptions): Promise<PipelineBenchResult> {
  const scratch = await openBenchScratch(options.env, 'pipeline');
  const { work, config } = scratch;
  const logger = pino({ level: 'warn' });
  const files = await writeVariants(options.photos, options.images, work, 'load');
  const latencyFiles = await writeVariants(options.photos, options.latencySamples, work, 'latency');
  const spec = new ModelRegistry().get(config.detect.model);

  // The bare loop first, on an idle machine, over the same images, with the
  // worker's onnxruntime threads, at 1, 2 and the worker's concurrency.
  const bare: Row[] = [];
  const bareBusy: number[] = [];
  for (const pipelines of [...new Set([1, 2, config.worker.concurrency])]) {
    const cpu = cpuSample();
    bare.push(await bareLoop(spec, files, files.length, pipelines, config.detect.intraOpThreads));
    bareBusy.push(busySince(cpu) / files.length);
  }
  const fastestBare = bare.reduce((best, r, i) => (r.images / r.seconds > bare[best]!.images / bare[best]!.seconds ? i : best), 0);
  const bareCoreMs = bareBusy[fastestBare] ?? NaN;

  const services = openServices(config, logger);
  try {
    const lookout = await startLookoutAll(services, { photos: options.photos, work, warmTag: 'warm' });
    const { url, token } = lookout;
    try {
      const submitAll = async (forms: FormData[]) => {
        const ids: string[] = [];
        for (const form of forms) ids.push(await upload(url, token, form));
        return ids;
      };
      const forms = await buildForms(files, options.batchSize);
      const cpu0 = cpuSample();
      const started = performance.now();
      const ids = await submitAll(forms);
      for (const id of ids) await waitDone(url, token, id, 20);
      const seconds = (performance.now() - started) / 1000;
      const pipelineCoreMs = busySince(cpu0) / files.length;

      // The same work with the upload taken out of the timing.
      const detectQueue = services.queues.get('detect')!;
      await detectQueue.pause();
      const again = await submitAll(await buildForms(await writeVariants(options.photos, options.images, work, 'processing'), options.batchSize));
      const cpu1 = cpuSample();
      const resumed = performance.now();
      await detectQueue.resume();
      for (const id of again) await waitDone(url, token, id, 20);
      const processingSeconds = (performance.now() - resumed) / 1000;
      const processingCoreMs = busySince(cpu1) / files.length;

      const latencies: number[] = [];
      for (const form of await buildForms(latencyFiles, 1)) {
        const t0 = performance.now();
        await waitDone(url, token, await upload(url, token, form), 5);
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
        coreMsPerImage: { pipeline: pipelineCoreMs, processing: processingCoreMs, bare: bareCoreMs },
        bare,
        bareImagesPerSec,
        ratio: pipelineImagesPerSec / bareImagesPerSec,
        latencyP50Ms: median(latencies),
        latencyP95Ms: percentile(latencies, 95),
      };
    } finally {
      await lookout.close();
    }
  } finally {
    await services.close();
    await scratch.remove();
  }
}
