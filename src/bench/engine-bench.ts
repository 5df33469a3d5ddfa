// Engine part of `npm run bench`: the bare loop (read file, preprocess,
// infer, decode) at 1 and 2 parallel pipelines, and the same work through the
// Detector (micro-batcher included) for comparison.

import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { createDecoder } from '../detection/decoders/index.js';
import { createDetector, DEFAULT_IMAGE_LIMITS, type ModelSpec } from '../detection/index.js';
import { loadModelFile } from '../detection/model-file.js';
import { openModelSession } from '../detection/model-session.js';
import { preprocessImage } from '../detection/preprocess.js';

export interface Row {
  model: string;
  mode: string;
  pipelines: number;
  images: number;
  seconds: number;
  median: { read: number; preprocess: number; inference: number; postprocess: number };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

type Timings = Record<keyof Row['median'], number[]>;
const emptyTimings = (): Timings => ({ read: [], preprocess: [], inference: [], postprocess: [] });

/** Runs `pipelines` loops that share one counter of `total` images. */
async function runPipelines(
  files: string[],
  total: number,
  pipelines: number,
  one: (file: string, t: Timings) => Promise<void>,
): Promise<{ seconds: number; timings: Timings }> {
  const timings = emptyTimings();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: pipelines }, async () => {
      while (next < total) {
        const file = files[next++ % files.length] as string;
        await one(file, timings);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, timings };
}

export async function bareLoop(spec: ModelSpec, files: string[], total: number, pipelines: number, intraOpThreads = 0): Promise<Row> {
  const logger = pino({ level: 'warn' });
  const session = await openModelSession({
    spec,
    file: await loadModelFile(spec),
    device: { kind: 'cpu' },
    allowCpuFallback: false,
    intraOpThreads,
    logger,
    // The bare loop: onnxruntime on the calling thread, nothing in between.
    inferenceThread: false,
  });
  const decode = createDecoder(spec.decoder, spec.input);
  try {
    const { seconds, timings } = await runPipelines(files, total, pipelines, async (file, t) => {
      const t0 = performance.now();
      const bytes = await readFile(file);
      const t1 = performance.now();
      const image = await preprocessImage(bytes, spec.input, DEFAULT_IMAGE_LIMITS);
      const t2 = performance.now();
      const [outputs] = await session.run([image.tensor]);
      const t3 = performance.now();
      decode(outputs!, image.letterbox, spec.defaultMinScore);
      const t4 = performance.now();
      t.read.push(t1 - t0);
      t.preprocess.push(t2 - t1);
      t.inference.push(t3 - t2);
      t.postprocess.push(t4 - t3);
    });
    return summarise(spec.name, 'bare loop', pipelines, total, seconds, timings);
  } finally {
    await session.release();
  }
}

export async function detectorLoop(spec: ModelSpec, files: string[], total: number, pipelines: number): Promise<Row> {
  const detector = await createDetector({
    spec,
    device: { kind: 'cpu' },
    allowCpuFallback: false,
    limits: DEFAULT_IMAGE_LIMITS,
    logger: pino({ level: 'warn' }),
  });
  try {
    const { seconds, timings } = await runPipelines(files, total, pipelines, async (file, t) => {
      const t0 = performance.now();
      const bytes = await readFile(file);
      t.read.push(performance.now() - t0);
      const result = await detector.detect(bytes);
      t.preprocess.push(result.timings.decodeMs + result.timings.preprocessMs);
      t.inference.push(result.timings.inferenceMs);
      t.postprocess.push(result.timings.postprocessMs);
    });
    return summarise(spec.name, 'Detector', pipelines, total, seconds, timings);
  } finally {
    await detector.close();
  }
}

function summarise(model: string, mode: string, pipelines: number, images: number, seconds: number, t: Timings): Row {
  return {
    model,
    mode,
    pipelines,
    images,
    seconds,
    median: { read: median(t.read), preprocess: median(t.preprocess), inference: median(t.inference), postprocess: median(t.postprocess) },
  };
}

export function engineTable(rows: Row[]): string {
  const f = (n: number) => n.toFixed(2);
  const lines = [
    '| model | loop | pipelines | images | images/s | read ms | preprocess ms | inference ms | postprocess ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.mode} | ${r.pipelines} | ${r.images} | ${(r.images / r.seconds).toFixed(1)} | ${f(r.median.read)} | ${f(r.median.preprocess)} | ${f(r.median.inference)} | ${f(r.median.postprocess)} |`,
    ),
  ];
  return lines.join('\n');
}
