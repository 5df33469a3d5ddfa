// Scheduling part of `npm run bench` (issue 17): what the interactive lane and
// the fair share do for a person waiting on one image, and what they cost in
// throughput. In one `lookout all`-shaped process (API, detect worker, ops
// worker) on its own database and queue prefix:
//
// - latency: one-image batches (the interactive lane) of one key, submit to
//   `completed`, on the idle fleet and then while another key's backlog
//   (default 2,000 images) waits on the detect queue; what is left of it is
//   then taken off the queue;
// - throughput: two keys queue bulk batches (default 1,000 images in all,
//   which keeps the part near two minutes here) with the detect queue paused, the
//   queue resumes, and the clock runs until every batch is `completed`; once
//   through the API as it is (lanes and fair share), once through a second API
//   whose flow producer drops every detect job's priority (BullMQ's plain
//   first-come-first-served wait list, what the queue did before issue 17).
//   The drop is done here, around the flow producer, so production code has no
//   switch for it. Rounds in the order with, without, without, with.
//
// The images are distinct generated 32x32 PNGs (random pixels), so no cache
// answers for the model and the per-image work is mostly the queue's and
// Postgres's: the worst case for any scheduling overhead.

import { randomBytes } from 'node:crypto';
import type { FlowJob, FlowProducer } from 'bullmq';
import { pino } from 'pino';
import sharp from 'sharp';
import { createApiKey } from '../auth/api-keys.js';
import { prepareDatabase } from '../runtime/prepare-database.js';
import { startApi } from '../api/server.js';
import { OPS_QUEUES, startWorkerProcess } from '../workers/worker-process.js';
import { openServices, type Services } from '../runtime/services.js';
import { openBenchScratch } from './bench-scratch.js';
import { upload, waitDone } from './pipeline-bench.js';
import { mean, percentile } from './stats.js';

export interface SchedulingBenchOptions {
  /** Images of the other key waiting while the one-image latency is measured. */
  backlog: number;
  /** Images of each throughput round, half per key. */
  bulk: number;
  /** One-image batches timed, idle and behind the backlog. */
  samples: number;
  /** Images per bulk batch (above INTERACTIVE_MAX_IMAGES). */
  batchSize: number;
  env: Record<string, string | undefined>;
  log?: (line: string) => void;
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p95Ms: number;
}

export interface BulkRound {
  mode: 'fair' | 'fifo';
  images: number;
  seconds: number;
  imagesPerSec: number;
  /** A one-image batch of a third key submitted as the round's queue resumed, submit to completed. */
  oneImageMs: number;
}

export interface SchedulingBenchResult {
  model: string;
  concurrency: number;
  backlog: number;
  bulk: number;
  batchSize: number;
  idle: LatencySummary;
  underBacklog: LatencySummary & { backlogLeft: number };
  ratioP50: number;
  ratioP95: number;
  rounds: BulkRound[];
  fairImagesPerSec: number;
  fifoImagesPerSec: number;
  /** fair / fifo − 1: negative when the lanes cost throughput. */
  throughputChange: number;
}

/** Distinct tiny PNGs, one per form entry, as multipart batches of `batchSize`. */
async function tinyForms(count: number, batchSize: number, tag: string): Promise<FormData[]> {
  const pngs = await Promise.all(
    Array.from({ length: count }, () =>
      sharp(randomBytes(32 * 32 * 3), { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toBuffer(),
    ),
  );
  const forms: FormData[] = [];
  for (let i = 0; i < pngs.length; i += batchSize) {
    const form = new FormData();
    pngs.slice(i, i + batchSize).forEach((png, j) => form.append('images', new Blob([new Uint8Array(png)]), `${tag}-${i + j}.png`));
    forms.push(form);
  }
  return forms;
}

/** The flow producer with every job's priority taken off: the detect queue as it was before the lanes. */
function withoutPriorities(flows: FlowProducer): FlowProducer {
  const strip = (job: FlowJob): FlowJob => ({
    ...job,
    opts: { ...job.opts, priority: 0 },
    ...(job.children ? { children: job.children.map(strip) } : {}),
  });
  return new Proxy(flows, {
    get(target, prop) {
      if (prop === 'add') return (flow: FlowJob, opts?: Parameters<FlowProducer['add']>[1]) => target.add(strip(flow), opts);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const summary = (xs: number[]): LatencySummary => ({ samples: xs.length, p50Ms: percentile(xs, 50), p95Ms: percentile(xs, 95) });

export async function runSchedulingBench(options: SchedulingBenchOptions): Promise<SchedulingBenchResult> {
  const log = options.log ?? (() => undefined);
  // The bench polls and uploads far faster than a person: no rate limit in its way.
  const scratch = await openBenchScratch(options.env, 'scheduling', { RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_UPLOADS_PER_MINUTE: '1000000' });
  const { config } = scratch;
  if (options.batchSize <= config.interactiveMaxImages) throw new Error(`--batch-size must be above INTERACTIVE_MAX_IMAGES (${config.interactiveMaxImages})`);
  const services = openServices(config, pino({ level: 'warn' }));
  try {
    await prepareDatabase(services);
    const detect = await startWorkerProcess(services, { queues: ['detect'], concurrency: config.worker.concurrency });
    const ops = await startWorkerProcess(services, { queues: OPS_QUEUES, concurrency: 4 });
    const fairApi = await startApi(services, 0);
    const fifoServices: Services = Object.assign(Object.create(services) as Services, { flows: withoutPriorities(services.flows) });
    const fifoApi = await startApi(fifoServices, 0);
    const urls = { fair: `http://127.0.0.1:${fairApi.port}`, fifo: `http://127.0.0.1:${fifoApi.port}` };
    const queue = services.queues.get('detect')!;
    const waiting = async () => {
      const c = await queue.getJobCounts('waiting', 'prioritized', 'paused');
      return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0);
    };
    try {
      const key = async (name: string) => (await createApiKey(services.pool, { name, role: 'submitter', actor: 'bench' })).token;
      const [bulkA, bulkB, person] = [await key('bench-a'), await key('bench-b'), await key('bench-person')];
      const oneImage = async (url: string, form: FormData): Promise<number> => {
        const t0 = performance.now();
        await waitDone(url, person, await upload(url, person, form), 5);
        return performance.now() - t0;
      };
      const [warm] = await tinyForms(6, 6, 'warm');
      await waitDone(urls.fair, person, await upload(urls.fair, person, warm!), 20);

      const idle: number[] = [];
      for (const form of await tinyForms(options.samples, 1, 'idle')) idle.push(await oneImage(urls.fair, form));
      log(`scheduling: idle one-image p50 ${percentile(idle, 50).toFixed(1)} ms`);

      // The backlog is queued with the detect queue paused, so all of it waits when the first sample is submitted.
      const backlogForms = await tinyForms(options.backlog, options.batchSize, 'backlog');
      const behindForms = await tinyForms(options.samples, 1, 'behind');
      await queue.pause();
      const backlogIds: string[] = [];
      for (const form of backlogForms) backlogIds.push(await upload(urls.fair, bulkA, form));
      await queue.resume();
      const behind: number[] = [];
      let backlogLeft = await waiting();
      for (const form of behindForms) {
        if (backlogLeft === 0) break; // drained: later samples would be idle ones
        behind.push(await oneImage(urls.fair, form));
        backlogLeft = await waiting();
      }
      log(`scheduling: behind ${options.backlog} images p50 ${percentile(behind, 50).toFixed(1)} ms, ${backlogLeft} still waiting`);
      // What is left of the backlog is taken off the queue (its batches stay unfinished in the scratch database):
      // waiting for it would only measure throughput, which the rounds below do.
      await queue.pause();
      await queue.drain();
      while ((await queue.getJobCounts('active')).active) await new Promise((r) => setTimeout(r, 20));
      await queue.resume();

      const rounds: BulkRound[] = [];
      for (const mode of ['fair', 'fifo', 'fifo', 'fair'] as const) {
        const url = urls[mode];
        const half = Math.floor(options.bulk / 2);
        const formsA = await tinyForms(half, options.batchSize, `${mode}-a`);
        const formsB = await tinyForms(options.bulk - half, options.batchSize, `${mode}-b`);
        const [probe] = await tinyForms(1, 1, `${mode}-probe`);
        await queue.pause();
        const ids: Array<[string, string]> = [];
        for (const form of formsA) ids.push([bulkA, await upload(url, bulkA, form)]);
        for (const form of formsB) ids.push([bulkB, await upload(url, bulkB, form)]);
        const t0 = performance.now();
        await queue.resume();
        const [oneImageMs] = await Promise.all([
          oneImage(url, probe!),
          (async () => {
            for (const [token, id] of ids) await waitDone(url, token, id, 20);
          })(),
        ]);
        const seconds = (performance.now() - t0) / 1000;
        const images = options.bulk + 1;
        rounds.push({ mode, images, seconds, imagesPerSec: images / seconds, oneImageMs });
        log(`scheduling: bulk ${mode} ${(images / seconds).toFixed(1)} images/s, one image ${oneImageMs.toFixed(0)} ms`);
      }

      const idleSummary = summary(idle);
      const behindSummary = summary(behind);
      const rate = (mode: BulkRound['mode']) => mean(rounds.filter((r) => r.mode === mode).map((r) => r.imagesPerSec));
      return {
        model: config.detect.model,
        concurrency: config.worker.concurrency,
        backlog: options.backlog,
        bulk: options.bulk,
        batchSize: options.batchSize,
        idle: idleSummary,
        underBacklog: { ...behindSummary, backlogLeft },
        ratioP50: behindSummary.p50Ms / idleSummary.p50Ms,
        ratioP95: behindSummary.p95Ms / idleSummary.p95Ms,
        rounds,
        fairImagesPerSec: rate('fair'),
        fifoImagesPerSec: rate('fifo'),
        throughputChange: rate('fair') / rate('fifo') - 1,
      };
    } finally {
      await fairApi.close();
      await fifoApi.close();
      await detect.close(5000);
      await ops.close(5000);
    }
  } finally {
    await services.close();
    await scratch.remove();
  }
}
