// Blob-store part of `npm run bench`: the pipeline (HTTP upload → queue →
// worker → Postgres, one `lookout all`-shaped process) with BLOB_STORE=fs and
// with BLOB_STORE=s3 against a local S3 protocol server (s3rver in a process of
// its own on 127.0.0.1), in the same run, rounds alternating fs, s3, s3, fs…
// to cancel drift. Each round has its own database, queue prefix, blob
// directory or key prefix, and fresh images (no cache answers).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { createS3Client } from '../blobs/s3-client.js';
import { openServices } from '../runtime/services.js';
import { openBenchScratch } from './bench-scratch.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3Server } from './local-s3-server.js';
import { compareAlternatingRounds, type AlternatingBenchOptions } from './alternating-rounds.js';
import { buildForms, busySince, cpuSample, startLookoutAll, upload, waitDone, writeVariants } from './pipeline-bench.js';

const BUCKET = 'lookout-bench';

export type BlobStoreBenchOptions = AlternatingBenchOptions;

export interface BlobStoreRound {
  store: 'fs' | 's3';
  imagesPerSec: number;
  /** Machine-wide busy CPU per image (Node, Postgres, Redis, s3rver), core-milliseconds. */
  coreMsPerImage: number;
  /** Of which s3rver's process (s3 rounds; 0 for fs), core-milliseconds per image. */
  s3rverCoreMsPerImage: number;
  /** This process's CPU per image (API, workers, their threads: Lookout's own work, whatever else the machine runs), core-milliseconds. */
  lookoutCoreMsPerImage: number;
}

export interface BlobStoreBenchResult {
  images: number;
  batches: number;
  concurrency: number;
  rounds: BlobStoreRound[];
  /** Mean images/s per store. */
  fsImagesPerSec: number;
  s3ImagesPerSec: number;
  /** s3 / fs of the means (goal ≥ 0.9). */
  ratio: number;
  /** s3 / fs of each pair of rounds run one after the other (fs then s3, s3 then fs, …): what drift on a shared machine moves least. */
  pairRatios: number[];
  /** Objects the s3 rounds left in the bucket, one per image (warm-up included): the blobs really went there. */
  s3Objects: number;
  s3ObjectsExpected: number;
}

export async function runBlobStoreBench(options: BlobStoreBenchOptions): Promise<BlobStoreBenchResult> {
  const s3Dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-bench-s3rver-'));
  const server = await startLocalS3Server({ directory: s3Dir, buckets: [BUCKET] });
  // The SDK's default chain reads the process environment: s3rver's account for this run, whatever was there.
  const saved = Object.fromEntries(Object.keys({ ...LOCAL_S3_CREDENTIALS, AWS_EC2_METADATA_DISABLED: '' }).map((k) => [k, process.env[k]]));
  Object.assign(process.env, LOCAL_S3_CREDENTIALS, { AWS_EC2_METADATA_DISABLED: 'true' });
  const rounds: BlobStoreRound[] = [];
  let concurrency = 0;
  let batches = 0;
  try {
    const order = Array.from({ length: options.rounds }, (_, i) => (i % 2 === 0 ? (['fs', 's3'] as const) : (['s3', 'fs'] as const))).flat();
    for (const [i, store] of order.entries()) {
      const scratch = await openBenchScratch(options.env, `blobs-${store}`, store === 's3' ? server.env(BUCKET, `round-${i}/`) : {});
      const { work, config } = scratch;
      concurrency = config.worker.concurrency;
      const services = openServices(config, pino({ level: 'warn' }));
      try {
        const lookout = await startLookoutAll(services, { photos: options.photos, work, warmTag: `warm-${i}` });
        const { url, token } = lookout;
        try {
          const forms = await buildForms(await writeVariants(options.photos, options.images, work, `round-${i}`), options.batchSize);
          batches = forms.length;
          const cpu = cpuSample();
          const s3rverCpu = server.cpuMs();
          const ownCpu = process.cpuUsage();
          const started = performance.now();
          const ids: string[] = [];
          for (const form of forms) ids.push(await upload(url, token, form));
          for (const id of ids) await waitDone(url, token, id, 20);
          const seconds = (performance.now() - started) / 1000;
          const round = {
            store,
            imagesPerSec: options.images / seconds,
            coreMsPerImage: busySince(cpu) / options.images,
            s3rverCoreMsPerImage: (server.cpuMs() - s3rverCpu) / options.images,
            lookoutCoreMsPerImage: ((own) => (own.user + own.system) / 1000 / options.images)(process.cpuUsage(ownCpu)),
          };
          rounds.push(round);
          options.log(
            `blob store ${store} round ${i + 1}: ${round.imagesPerSec.toFixed(1)} images/s, ${round.coreMsPerImage.toFixed(1)} core-ms per image (Lookout ${round.lookoutCoreMsPerImage.toFixed(1)}, s3rver ${round.s3rverCoreMsPerImage.toFixed(1)})`,
          );
        } finally {
          await lookout.close();
        }
      } finally {
        await services.close();
        await scratch.remove();
      }
    }
    const client = createS3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true });
    let s3Objects = 0;
    try {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: BUCKET })) s3Objects += page.Contents?.length ?? 0;
    } finally {
      client.destroy();
    }
    const compared = compareAlternatingRounds(
      rounds.map((r) => ({ setting: r.store, imagesPerSec: r.imagesPerSec })),
      's3',
      'fs',
    );
    return {
      images: options.images,
      batches,
      concurrency,
      rounds,
      fsImagesPerSec: compared.baseMean,
      s3ImagesPerSec: compared.testMean,
      ratio: compared.ratio,
      pairRatios: compared.pairRatios,
      s3Objects,
      s3ObjectsExpected: options.rounds * (options.images + 6),
    };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await server.close();
    await rm(s3Dir, { recursive: true, force: true });
  }
}
