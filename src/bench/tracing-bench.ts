// Tracing part of `npm run bench`: the pipeline (HTTP upload → queue → worker
// → Postgres) through a real `lookout all` process (bin/lookout.js, which
// starts the SDK before the CLI as in production) with tracing on, exporting
// OTLP http/protobuf to a receiver on 127.0.0.1, against the same process
// with no endpoint set (tracing off: nothing of the SDK loaded), in the same
// run, rounds alternating on, off, off, on… to cancel drift. Each round has
// its own process, database, queue prefix and fresh images; its clock starts
// after a warm-up batch (model loaded, connections open).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiKey } from '../auth/api-keys.js';
import { createPool } from '../db/pool.js';
import { openBenchScratch } from './bench-scratch.js';
import { compareAlternatingRounds, type AlternatingBenchOptions } from './alternating-rounds.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { buildForms, busySince, cpuSample, upload, waitDone, writeVariants } from './pipeline-bench.js';
import { freePort } from '../backups/pitr/free-port.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type TracingBenchOptions = AlternatingBenchOptions;

export type TracingMode = 'on' | 'off';

export interface TracingRound {
  mode: TracingMode;
  imagesPerSec: number;
  /** The Lookout process's CPU per image (API, workers, their threads; the SDK and the exporter when on), core-milliseconds. */
  lookoutCoreMsPerImage: number;
  /** Machine-wide busy CPU per image (Postgres, Redis, the receiver and anything else running included), core-milliseconds. */
  coreMsPerImage: number;
  /** What reached the receiver during the timed part: export requests and their bytes (0 when off). */
  exports: number;
  exportedBytes: number;
}

export interface TracingBenchResult {
  images: number;
  batches: number;
  rounds: TracingRound[];
  onImagesPerSec: number;
  offImagesPerSec: number;
  /** on / off of the means (goal ≥ 0.95). */
  ratio: number;
  /** on / off of each pair of rounds run one after the other (on then off, off then on, …). */
  pairRatios: number[];
}

/** A process's CPU so far (user + system, all its threads), in milliseconds, from /proc (Linux; NaN elsewhere). */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the command name; USER_HZ = 100.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** `lookout all` on a free port with `env`, ready (/readyz 200) or rejected with its output. */
async function startLookoutProcess(env: Record<string, string | undefined>): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'lookout.js'), 'all'], {
    env: { ...env, PORT: String(port), LOG_LEVEL: 'warn', LOG_FORMAT: 'json', BACKUP_SCHEDULES: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lookout all exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { child, url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`lookout all not ready in 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runTracingBench(options: TracingBenchOptions): Promise<TracingBenchResult> {
  const receiver = await startOtlpReceiver({ keep: false });
  const rounds: TracingRound[] = [];
  let batches = 0;
  try {
    const order = Array.from({ length: options.rounds }, (_, i) => (i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const))).flat();
    for (const [i, mode] of order.entries()) {
      const scratch = await openBenchScratch(options.env, `tracing-${mode}`);
      try {
        // Off: no OTEL_* at all, whatever this shell has.
        const env = Object.fromEntries(Object.entries(scratch.env).filter(([k]) => !k.startsWith('OTEL_')));
        if (mode === 'on') Object.assign(env, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
        const lookout = await startLookoutProcess(env);
        const pool = createPool(scratch.config.databaseUrl, 1);
        try {
          const { token } = await createApiKey(pool, { name: 'bench', role: 'submitter', actor: 'bench' });
          const [warm] = await buildForms(await writeVariants(options.photos, 6, scratch.work, `warm-${i}`), 6);
          await waitDone(lookout.url, token, await upload(lookout.url, token, warm!), 20);
          const forms = await buildForms(await writeVariants(options.photos, options.images, scratch.work, `round-${i}`), options.batchSize);
          batches = forms.length;
          const before = { exports: receiver.exports.length, bytes: receiver.exports.reduce((a, e) => a + e.bytes, 0) };
          const cpu = cpuSample();
          const ownCpu = processCpuMs(lookout.child.pid!);
          const started = performance.now();
          const ids: string[] = [];
          for (const form of forms) ids.push(await upload(lookout.url, token, form));
          for (const id of ids) await waitDone(lookout.url, token, id, 20);
          const seconds = (performance.now() - started) / 1000;
          const round: TracingRound = {
            mode,
            imagesPerSec: options.images / seconds,
            lookoutCoreMsPerImage: (processCpuMs(lookout.child.pid!) - ownCpu) / options.images,
            coreMsPerImage: busySince(cpu) / options.images,
            exports: receiver.exports.length - before.exports,
            exportedBytes: receiver.exports.reduce((a, e) => a + e.bytes, 0) - before.bytes,
          };
          rounds.push(round);
          options.log(
            `tracing ${mode} round ${i + 1}: ${round.imagesPerSec.toFixed(1)} images/s, Lookout ${round.lookoutCoreMsPerImage.toFixed(1)} core-ms per image, machine ${round.coreMsPerImage.toFixed(1)}; ${round.exports} exports, ${(round.exportedBytes / 1024).toFixed(0)} KiB`,
          );
        } finally {
          await pool.end();
          await lookout.stop();
        }
      } finally {
        await scratch.remove();
      }
    }
  } finally {
    await receiver.close();
  }
  const compared = compareAlternatingRounds(
    rounds.map((r) => ({ setting: r.mode, imagesPerSec: r.imagesPerSec })),
    'on',
    'off',
  );
  return {
    images: options.images,
    batches,
    rounds,
    onImagesPerSec: compared.testMean,
    offImagesPerSec: compared.baseMean,
    ratio: compared.ratio,
    pairRatios: compared.pairRatios,
  };
}
