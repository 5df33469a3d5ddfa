// `lookout submit`: a client of a Lookout server. Finds the images under the
// PATHs given, uploads them as one or more batches (split by the server's
// limits from GET /v1/info), and with --wait follows detection to the end and
// prints the results: a summary table, or one JSON line per image (--json).
// Exit status: 0 all uploaded (and with --wait all done), 1 an image or a
// batch failed (or a PATH was missing, or the server could not be reached),
// 2 usage, configuration or authentication errors and refused requests, or
// nothing to upload.

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import {
  ApiCallError,
  createLookoutClient,
  ServerUnreachableError,
  isFinished,
  type BatchView,
  type LookoutClient,
  type ResultImage,
  type ServerInfo,
  type SubmittedBatch,
} from '../submit-client.js';
import { collectImages, type FoundImage, type SkippedFile } from '../submit-collect-images.js';
import { loadSubmitConfig, SubmitConfigError } from '../submit-config.js';
import { baseRequestBytes, filePartBytes, FileChangedError, multipartBody, newBoundary } from '../submit-multipart-stream.js';
import { createProgress, type SubmitProgress } from '../submit-progress.js';
import { splitIntoRequests, type PlannedRequest } from '../submit-split.js';
import { formatSummary } from '../submit-summary.js';
import { annotationPathFor } from '../annotation-path.js';
import { plural } from '../../text/format.js';
import { formatMinScore } from '../../text/min-score.js';
import type { CommandDeps } from '../command-deps.js';
import { minScoreOption } from '../options.js';

export interface SubmitCommandOptions {
  paths: string[];
  model?: string;
  minScore?: number;
  wait: boolean;
  json: boolean;
  /** Implies wait. */
  annotateDir?: string;
}

export interface SubmitCommandDeps {
  env: Record<string, string | undefined>;
  /** stdout: results. */
  out: (text: string) => void;
  /** stderr: skips, errors and, on a terminal, the progress bars. */
  err: NodeJS.WritableStream & { isTTY?: boolean };
  fetch?: typeof fetch;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
  pollMs?: number;
}

/** Whole-request refusals that sending again will not fix: usage, auth, limits, formats. */
const REFUSED_STATUSES = new Set([400, 401, 403, 413, 415]);
const MAX_RATE_LIMIT_RETRIES = 3;
const MAX_RETRY_AFTER_S = 60;
/** Consecutive failed polls (server restarting) tolerated before giving up. */
const MAX_POLL_FAILURES = 20;

interface UploadedImage {
  /** An uploaded file, or (by reference) its s3:// URL as `file`. */
  image: Pick<FoundImage, 'file' | 'filename' | 'bytes'>;
  batchId: string;
  imageId: string;
}

interface Context {
  options: SubmitCommandOptions;
  deps: SubmitCommandDeps;
  client: LookoutClient;
  progress: SubmitProgress;
  say: (line: string) => void;
  /** Batches created so far, in order, with their image counts. */
  batches: Array<{ id: string; images: number }>;
  /** Which request failed and what it held, said after the error itself. */
  failedRequest?: string;
}

/** Whether the last poll saw the batch finished; a batch not yet polled is not. */
const finishedIn = (views: ReadonlyMap<string, BatchView>, id: string): boolean => {
  const status = views.get(id)?.status;
  return status !== undefined && isFinished(status);
};

function listFiles(files: Array<{ file: string }>, max = 8): string {
  const names = files.slice(0, max).map((f) => f.file);
  return files.length > max ? `${names.join(', ')} and ${files.length - max} more` : names.join(', ');
}

/** The model to ask for, checked against the server's list before anything is uploaded. */
function checkModel(info: ServerInfo, requested: string | undefined): string | { code: string; message: string } {
  const name = requested ?? info.defaultModel;
  const model = info.models.find((m) => m.name === name);
  if (!model) return { code: 'unknown_model', message: `unknown model "${name}"; the server knows: ${info.models.map((m) => m.name).join(', ')}` };
  if (!model.present) {
    return {
      code: 'model_unavailable',
      message: `model "${name}" is not on the server: an operator runs npx lookout models fetch ${name} --accept-license ${model.license.toLowerCase()}`,
    };
  }
  return name;
}

function reportSkips(ctx: Context, skipped: SkippedFile[], hidden: string[]): void {
  for (const s of skipped) ctx.progress.log(`skipped ${s.file}: ${s.reason}`);
  if (hidden.length) {
    ctx.progress.log(
      `skipped ${plural(hidden.length, 'hidden entry', 'hidden entries')} (names starting with "."): ${listFiles(
        hidden.map((file) => ({ file })),
        5,
      )}`,
    );
  }
}

/** One request: POST /v1/batches, sent again (a fresh body) when rate limited. */
async function uploadRequest(ctx: Context, boundary: string, fields: Record<string, string>, request: PlannedRequest<FoundImage>): Promise<SubmittedBatch> {
  const { progress } = ctx;
  for (let attempt = 0; ; attempt++) {
    const body = multipartBody(boundary, fields, request.files, { onBytes: (n) => progress.uploaded(n), onFileSent: () => progress.fileSent() });
    try {
      const batch = await ctx.client.submitBatch(body, ctx.deps.signal);
      progress.requestDone();
      return batch;
    } catch (err) {
      if (!(err instanceof ApiCallError) || err.status !== 429 || attempt >= MAX_RATE_LIMIT_RETRIES) throw err;
      const waitS = Math.min(err.retryAfterS ?? 5, MAX_RETRY_AFTER_S);
      progress.restartRequest();
      progress.log(`lookout submit: rate limited (${err.message}); sending again in ${waitS} s`);
      await sleep(waitS * 1000, undefined, { signal: ctx.deps.signal });
    }
  }
}

/** The s3:// arguments as batches of at most `maxFiles` images (JSON bodies); their "file" is the URL. */
async function submitReferences(ctx: Context, urls: readonly string[], maxFiles: number): Promise<UploadedImage[]> {
  const submitted: UploadedImage[] = [];
  for (let from = 0; from < urls.length; from += maxFiles) {
    const chunk = urls.slice(from, from + maxFiles);
    let batch: SubmittedBatch;
    try {
      batch = await ctx.client.submitReferences(
        {
          images: chunk.map((url) => ({ url })),
          ...(ctx.options.model === undefined ? {} : { model: ctx.options.model }),
          ...(ctx.options.minScore === undefined ? {} : { minScore: ctx.options.minScore }),
        },
        ctx.deps.signal,
      );
    } catch (err) {
      ctx.failedRequest = `the request naming ${plural(chunk.length, 'object')} failed, so none of them was submitted: ${chunk.slice(0, 8).join(', ')}${chunk.length > 8 ? ` and ${chunk.length - 8} more` : ''}`;
      throw err;
    }
    ctx.batches.push({ id: batch.id, images: batch.images.length });
    batch.images.forEach((img, k) =>
      submitted.push({ image: { file: chunk[k]!, filename: img.filename, bytes: img.bytes }, batchId: batch.id, imageId: img.id }),
    );
  }
  return submitted;
}

async function uploadAll(
  ctx: Context,
  requests: Array<PlannedRequest<FoundImage>>,
  boundary: string,
  fields: Record<string, string>,
): Promise<UploadedImage[]> {
  const uploaded: UploadedImage[] = [];
  for (const [i, request] of requests.entries()) {
    let batch: SubmittedBatch;
    try {
      batch = await uploadRequest(ctx, boundary, fields, request);
    } catch (err) {
      const which = requests.length > 1 ? `request ${i + 1} of ${requests.length}` : 'the upload';
      ctx.failedRequest = `${which} failed, so none of its ${plural(request.files.length, 'file')} was submitted: ${listFiles(request.files)}`;
      throw err;
    }
    if (batch.images.length !== request.files.length) {
      throw new ApiCallError(202, 'unexpected_answer', `batch ${batch.id} holds ${batch.images.length} images; ${request.files.length} were sent`);
    }
    ctx.batches.push({ id: batch.id, images: batch.images.length });
    // The server lists the images in the order they were sent.
    batch.images.forEach((img, k) => uploaded.push({ image: request.files[k] as FoundImage, batchId: batch.id, imageId: img.id }));
  }
  return uploaded;
}

/** Polls every unfinished batch until all are terminal; the detect bar counts images finished over all of them. */
async function waitForBatches(ctx: Context, total: number): Promise<Map<string, BatchView>> {
  const pollMs = ctx.deps.pollMs ?? 500;
  const views = new Map<string, BatchView>();
  ctx.progress.startDetect(total);
  let failures = 0;
  for (;;) {
    const pending = ctx.batches.filter((b) => !finishedIn(views, b.id));
    if (pending.length === 0) return views;
    for (const b of pending) {
      try {
        views.set(b.id, await ctx.client.batch(b.id, ctx.deps.signal));
        failures = 0;
      } catch (err) {
        if (err instanceof ApiCallError && err.status === 429) {
          await sleep(Math.min(err.retryAfterS ?? 5, MAX_RETRY_AFTER_S) * 1000, undefined, { signal: ctx.deps.signal });
          break;
        }
        const transient = err instanceof ServerUnreachableError || (err instanceof ApiCallError && err.status >= 500);
        if (!transient || ++failures >= MAX_POLL_FAILURES) throw err;
      }
    }
    ctx.progress.detected([...views.values()].reduce((n, v) => n + v.progress.done + v.progress.failed, 0));
    if (ctx.batches.every((b) => finishedIn(views, b.id))) return views;
    // Many batches: poll less often, so a big submit stays inside the API's per-key rate limit.
    await sleep(Math.max(pollMs, 150 * pending.length), undefined, { signal: ctx.deps.signal });
  }
}

async function downloadAnnotated(ctx: Context, dir: string, uploaded: UploadedImage[], results: Map<string, ResultImage>): Promise<number> {
  const taken = new Set<string>();
  let failed = 0;
  for (const u of uploaded) {
    if (results.get(u.imageId)?.status !== 'done') continue;
    const target = annotationPathFor(dir, u.image.file, taken);
    try {
      const png = await ctx.client.annotated(u.imageId, ctx.deps.signal);
      await pipeline(Readable.fromWeb(png), createWriteStream(target));
    } catch (err) {
      if (ctx.deps.signal?.aborted) throw err;
      failed++;
      const reason = err instanceof ApiCallError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
      ctx.say(`could not download the annotated image of ${u.image.file}: ${reason}`);
    }
  }
  return failed;
}

function printQueued(ctx: Context, uploaded: UploadedImage[], skipped: number): void {
  if (ctx.options.json) {
    for (const u of uploaded)
      ctx.deps.out(`${JSON.stringify({ file: u.image.file, batchId: u.batchId, imageId: u.imageId, status: 'queued', detections: null })}\n`);
    return;
  }
  const { batches, client } = ctx;
  const lines = [`submitted ${plural(uploaded.length, 'image')} in ${plural(batches.length, 'batch', 'batches')}${skipped ? ` (${skipped} skipped)` : ''}:`];
  for (const b of batches) lines.push(`  ${b.id}  ${plural(b.images, 'image')}`);
  const id = batches.length === 1 ? (batches[0]?.id ?? '<id>') : '<id>';
  lines.push(`check on it: GET ${client.url}/v1/batches/${id}`, `its results: GET ${client.url}/v1/batches/${id}/results (or submit with --wait)`);
  ctx.deps.out(`${lines.join('\n')}\n`);
}

async function submit(ctx: Context): Promise<number> {
  const { options, client, progress } = ctx;
  const info = await client.info(ctx.deps.signal);
  const model = checkModel(info, options.model);
  if (typeof model !== 'string') {
    ctx.say(`${model.code}: ${model.message}`);
    return 2;
  }
  const wait = options.wait || options.annotateDir !== undefined;
  if (options.annotateDir !== undefined) {
    try {
      await mkdir(options.annotateDir, { recursive: true });
    } catch (err) {
      ctx.say(`cannot create ${options.annotateDir}: ${(err as Error).message}`);
      return 2;
    }
  }

  // s3://BUCKET/KEY arguments are sent by reference (the server reads them from its bucket); the rest are uploaded.
  const references = options.paths.filter((p) => p.startsWith('s3://'));
  const paths = options.paths.filter((p) => !p.startsWith('s3://'));
  const found = await collectImages(paths, { maxFileBytes: info.limits.maxFileBytes });
  for (const m of found.missing) ctx.say(`no such file or directory: ${m}`);
  const fields: Record<string, string> = {
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.minScore === undefined ? {} : { minScore: formatMinScore(options.minScore) }),
  };
  const boundary = newBoundary();
  const plan = splitIntoRequests(found.images, info.limits, baseRequestBytes(boundary, fields), (f) => filePartBytes(boundary, f));
  const skipped = [
    ...found.skipped,
    ...plan.tooLarge.map((f) => ({
      file: f.file,
      reason: `${f.bytes} bytes with the form around them are over the server's request limit of ${info.limits.maxRequestBytes} bytes`,
    })),
  ];
  reportSkips(ctx, skipped, found.hidden);
  if (plan.requests.length === 0 && references.length === 0) {
    ctx.say(`nothing to upload: no image found in ${options.paths.join(', ')}`);
    return 2;
  }

  const files = plan.requests.reduce((n, r) => n + r.files.length, 0);
  progress.startUpload(
    plan.requests.reduce((n, r) => n + r.bytes, 0),
    files,
  );
  const uploaded = [...(await submitReferences(ctx, references, info.limits.maxFiles)), ...(await uploadAll(ctx, plan.requests, boundary, fields))];
  const missingCode = found.missing.length > 0 ? 1 : 0;
  if (!wait) {
    progress.stop();
    printQueued(ctx, uploaded, skipped.length);
    return missingCode;
  }

  const views = await waitForBatches(ctx, uploaded.length);
  progress.stop();
  const results = new Map<string, ResultImage>();
  for (const b of ctx.batches) {
    for (const img of (await client.results(b.id, ctx.deps.signal)).images) results.set(img.id, img);
  }
  const annotateFailures = options.annotateDir === undefined ? 0 : await downloadAnnotated(ctx, options.annotateDir, uploaded, results);

  if (options.json) {
    for (const u of uploaded) {
      const r = results.get(u.imageId);
      const ids = { file: u.image.file, batchId: u.batchId, imageId: u.imageId };
      const line =
        r?.status === 'done'
          ? { ...ids, width: r.width, height: r.height, model: r.model ?? { name: model }, detections: r.detections }
          : {
              ...ids,
              error: r?.error
                ? { code: r.error.code, message: r.error.message ?? '' }
                : { code: 'not_finished', message: `image is ${r?.status ?? 'missing from the results'}` },
            };
      ctx.deps.out(`${JSON.stringify(line)}\n`);
    }
  } else {
    ctx.deps.out(
      formatSummary({
        images: uploaded.map((u) => {
          const r = results.get(u.imageId);
          return {
            file: u.image.file,
            status: r?.status ?? 'missing',
            labels: r?.status === 'done' ? r.detections.map((d) => d.label) : null,
            error: r?.error ?? null,
          };
        }),
        skipped,
        missing: found.missing,
        batches: ctx.batches.map((b) => ({ id: b.id, status: views.get(b.id)?.status ?? 'unknown' })),
      }),
    );
  }
  const imageFailed = uploaded.some((u) => results.get(u.imageId)?.status !== 'done');
  const batchFailed = [...views.values()].some((v) => v.status === 'failed');
  return imageFailed || batchFailed || annotateFailures > 0 ? 1 : missingCode;
}

export async function runSubmitCommand(options: SubmitCommandOptions, deps: SubmitCommandDeps): Promise<number> {
  const say = (line: string) => void deps.err.write(`lookout submit: ${line}\n`);
  let config;
  try {
    config = loadSubmitConfig(deps.env);
  } catch (err) {
    if (!(err instanceof SubmitConfigError)) throw err;
    say(err.message);
    return 2;
  }
  const progress = createProgress(deps.err, Boolean(deps.err.isTTY) && !options.json);
  const ctx: Context = {
    options,
    deps,
    client: createLookoutClient(config, deps.fetch),
    progress,
    // Error lines go above the bars while they are drawn.
    say: (line) => progress.log(`lookout submit: ${line}`),
    batches: [],
  };
  try {
    return await submit(ctx);
  } catch (err) {
    progress.stop();
    const already = ctx.batches.length
      ? `; already submitted (they keep running on the server): ${ctx.batches.map((b) => `${b.id} (${plural(b.images, 'image')})`).join(', ')}`
      : '';
    if (deps.signal?.aborted) {
      say(`interrupted${already}`);
      return 130;
    }
    const explain = () => {
      if (ctx.failedRequest) say(ctx.failedRequest);
      if (already) say(already.slice(2));
    };
    if (err instanceof ApiCallError) {
      say(`${err.code}: ${err.message}${err.status === 401 ? ` (LOOKOUT_API_KEY, at ${config.url})` : ''}`);
      explain();
      return REFUSED_STATUSES.has(err.status) ? 2 : 1;
    }
    if (err instanceof ServerUnreachableError || err instanceof FileChangedError) {
      say(err.message);
      explain();
      return 1;
    }
    throw err;
  } finally {
    progress.stop();
  }
}

/** `lookout submit` needs no configuration of the server's: its own comes from LOOKOUT_URL and LOOKOUT_API_KEY. */
export function register(program: Command, _deps: CommandDeps): void {
  program
    .command('submit')
    .description('upload images to a Lookout server (LOOKOUT_URL, LOOKOUT_API_KEY) as batches; --wait for the results')
    .argument('<path...>', 'image files and folders (walked recursively; only images are sent), or s3://BUCKET/KEY objects the server reads by reference')
    .option('--model <name>', "model to run (default: the server's)")
    .option('--min-score <x>', "minimum score, 0..1 (default: the model's)", minScoreOption)
    .option('--wait', 'follow detection to the end and print the results')
    .option('--json', 'one JSON line per image on stdout, no progress bar')
    .option('--annotate <dir>', 'download <dir>/<basename>.png with the detections drawn (implies --wait)')
    .action(async (paths: string[], opts: { model?: string; minScore?: number; wait?: boolean; json?: boolean; annotate?: string }) => {
      // Ctrl-C stops the bars and says which batches were already submitted; a second one exits at once.
      const abort = new AbortController();
      const onSigint = () => (abort.signal.aborted ? process.exit(130) : abort.abort());
      process.on('SIGINT', onSigint);
      try {
        process.exitCode = await runSubmitCommand(
          {
            paths,
            ...(opts.model === undefined ? {} : { model: opts.model }),
            ...(opts.minScore === undefined ? {} : { minScore: opts.minScore }),
            ...(opts.annotate === undefined ? {} : { annotateDir: opts.annotate }),
            wait: Boolean(opts.wait),
            json: Boolean(opts.json),
          },
          { env: process.env, out: (text) => void process.stdout.write(text), err: process.stderr, signal: abort.signal },
        );
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
