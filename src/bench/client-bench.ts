// Client part of `npm run bench`: `lookout submit` (multipart streamed from
// disk, byte-counted for its progress bar) against a bare fetch of the same
// images built in memory, to the same API; and what the console's image
// routes cost per request (preview.jpg at thumbnail and large size, against
// annotated.png). Own database and queue prefix, removed afterwards.

import { mkdtemp, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApiKey } from '../auth/api-keys.js';
import { runSubmitCommand } from '../cli/commands/submit.js';
import { prepareDatabase } from '../runtime/prepare-database.js';
import { startApi } from '../api/server.js';
import { OPS_QUEUES, startWorkerProcess } from '../workers/worker-process.js';
import { openServices } from '../runtime/services.js';
import { median } from './engine-bench.js';
import { buildForms, upload, waitDone, writeVariants } from './pipeline-bench.js';
import { openBenchScratch } from './bench-scratch.js';

export interface ClientBenchOptions {
  photos: string[];
  images: number;
  rounds: number;
  env: Record<string, string | undefined>;
}

export interface ClientBenchResult {
  images: number;
  /** Bytes uploaded, in MiB. */
  mebibytes: number;
  bareSeconds: number;
  submitSeconds: number;
  routes: Array<{ route: string; p50Ms: number; bytes: number }>;
}

const nullStream = () => new Writable({ write: (_c, _e, done) => done() });

export async function runClientBench(options: ClientBenchOptions): Promise<ClientBenchResult> {
  // The per-key limits are not what is measured here.
  const scratch = await openBenchScratch(options.env, 'client', { RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_UPLOADS_PER_MINUTE: '1000000' });
  const { work, config } = scratch;
  const services = openServices(config, pino({ level: 'warn' }));
  try {
    await prepareDatabase(services);
    const api = await startApi(services, 0);
    const url = `http://127.0.0.1:${api.port}`;
    try {
      const { token } = await createApiKey(services.pool, { name: 'bench', role: 'submitter', actor: 'bench' });
      let bareSeconds = Infinity;
      let submitSeconds = Infinity;
      let bytes = 0;
      // Alternating rounds, best of each: the machine is noisy. Fresh bytes
      // every round, so neither side is answered from an earlier upload.
      for (let round = 0; round < options.rounds; round++) {
        const bareFiles = await writeVariants(options.photos, options.images, work, `bare${round}`);
        bytes = (await Promise.all(bareFiles.map((f) => stat(f)))).reduce((n, s) => n + s.size, 0);
        const [form] = await buildForms(bareFiles, options.images);
        let t = performance.now();
        await upload(url, token, form!);
        bareSeconds = Math.min(bareSeconds, (performance.now() - t) / 1000);

        const dir = await mkdtemp(path.join(work, `submit${round}-`));
        await writeVariants(options.photos, options.images, dir, `submit${round}`);
        t = performance.now();
        const code = await runSubmitCommand(
          { paths: [dir], wait: false, json: true },
          { env: { LOOKOUT_URL: url, LOOKOUT_API_KEY: token }, out: () => undefined, err: nullStream() },
        );
        submitSeconds = Math.min(submitSeconds, (performance.now() - t) / 1000);
        if (code !== 0) throw new Error(`lookout submit exited ${code}`);
      }

      // The image routes, on finished images.
      const detect = await startWorkerProcess(services, { queues: ['detect'], concurrency: 2 });
      const ops = await startWorkerProcess(services, { queues: OPS_QUEUES, concurrency: 2 });
      const routes: ClientBenchResult['routes'] = [];
      try {
        const [form] = await buildForms(await writeVariants(options.photos, options.photos.length, work, 'routes'), options.photos.length);
        const id = await upload(url, token, form!);
        await waitDone(url, token, id, 20);
        const res = await fetch(`${url}/v1/batches/${id}/results`, { headers: { authorization: `Bearer ${token}` } });
        const images = ((await res.json()) as { images: Array<{ id: string }> }).images;
        for (const route of ['preview.jpg?size=320', 'preview.jpg?size=1600', 'annotated.png']) {
          const times: number[] = [];
          let size = 0;
          for (let i = 0; i < 5; i++) {
            for (const img of images) {
              const t = performance.now();
              const r = await fetch(`${url}/v1/images/${img.id}/${route}`, { headers: { authorization: `Bearer ${token}` } });
              size += (await r.arrayBuffer()).byteLength;
              times.push(performance.now() - t);
            }
          }
          routes.push({ route, p50Ms: median(times), bytes: size / times.length });
        }
      } finally {
        await detect.close();
        await ops.close();
      }
      return { images: options.images, mebibytes: bytes / (1024 * 1024), bareSeconds, submitSeconds, routes };
    } finally {
      await api.close();
    }
  } finally {
    await services.close();
    await scratch.remove();
  }
}
