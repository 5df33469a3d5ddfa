// `lookout detect`: runs the engine over files and prints one JSON object per
// line per file, in the order given. A file that fails prints its error
// object; the command exits 1 if any file failed.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import { createDetectorCache } from '../../workers/detector-cache.js';
import type { Command } from 'commander';
import { annotateImage, DetectionError, isDetectionError, ModelRegistry, parseDevice, type Detector, type Device } from '../../detection/index.js';
import type { CommandDeps } from '../command-deps.js';
import { commandLogger } from '../command-logger.js';
import { minScoreOption, parseDeviceOption } from '../options.js';
import { annotationPathFor } from '../annotation-path.js';

export interface DetectCommandOptions {
  files: string[];
  model: string;
  minScore?: number;
  annotateDir?: string;
  device: Device;
}

export interface DetectCommandDeps {
  config: Config;
  logger: Logger;
  registry: ModelRegistry;
  /** Where result lines go (stdout in the CLI). */
  writeLine: (line: string) => void;
}

type FileOutcome = Record<string, unknown>;

async function readInput(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DetectionError('file_not_found', `no such file: ${file}`);
    if (code === 'EISDIR') throw new DetectionError('unsupported_format', `${file} is a directory, not an image`);
    throw err;
  }
}

async function detectOne(
  detector: Detector,
  file: string,
  options: DetectCommandOptions,
  deps: DetectCommandDeps,
  annotationPath: string | undefined,
): Promise<FileOutcome> {
  try {
    const bytes = await readInput(file);
    const result = await detector.detect(bytes, {
      maxDetections: deps.config.detect.maxDetectionsPerImage,
      ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
    });
    if (annotationPath) {
      await writeFile(annotationPath, await annotateImage(bytes, result.detections, deps.config.limits));
    }
    deps.logger.debug({ file, timings: result.timings, detections: result.detections.length }, 'detected');
    return { file, width: result.width, height: result.height, model: result.model, detections: result.detections };
  } catch (err) {
    if (isDetectionError(err)) return { file, error: { code: err.code, message: err.message } };
    deps.logger.error({ err, file }, 'unexpected failure');
    return { file, error: { code: 'internal_error', message: err instanceof Error ? err.message : String(err) } };
  }
}

export async function runDetectCommand(options: DetectCommandOptions, deps: DetectCommandDeps): Promise<number> {
  const { config } = deps;
  const detectors = createDetectorCache({
    registry: deps.registry,
    config: { detect: { ...config.detect, device: options.device }, limits: config.limits },
    logger: deps.logger,
  });
  const detector = await detectors.get(options.model);
  if (options.annotateDir) await mkdir(options.annotateDir, { recursive: true });
  const taken = new Set<string>();
  const annotationPaths = options.files.map((f) => (options.annotateDir ? annotationPathFor(options.annotateDir, f, taken) : undefined));

  // A small window of files in flight: the next image decodes while the
  // current one infers; output stays in input order.
  const window = 4;
  const inFlight: Array<Promise<FileOutcome>> = [];
  let failed = 0;
  try {
    for (let i = 0; i < options.files.length + window; i++) {
      if (i < options.files.length) {
        inFlight.push(detectOne(detector, options.files[i] as string, options, deps, annotationPaths[i]));
      }
      if (inFlight.length >= window || i >= options.files.length) {
        const next = inFlight.shift();
        if (!next) break;
        const outcome = await next;
        if ('error' in outcome) failed++;
        deps.writeLine(JSON.stringify(outcome));
      }
    }
  } finally {
    await detectors.closeAll();
  }
  return failed > 0 ? 1 : 0;
}

export function register(program: Command, deps: CommandDeps): void {
  program
    .command('detect')
    .description('detect objects in image files; prints one JSON line per file')
    .argument('<file...>', 'image files (JPEG, PNG, WebP, GIF, TIFF)')
    .option('--model <name>', 'model to run (default: DETECT_MODEL, blazeface-back)')
    .option('--min-score <x>', "minimum score, 0..1 (default: the model's)", minScoreOption)
    .option('--annotate <dir>', 'write <dir>/<basename>.png with the detections drawn')
    .option('--device <device>', 'cpu or cuda:N (default: DETECT_DEVICE, cpu)', parseDeviceOption)
    .action(async (files: string[], opts: { model?: string; minScore?: number; annotate?: string; device?: string }) => {
      const config = deps.config();
      const logger = commandLogger(config);
      try {
        const code = await runDetectCommand(
          {
            files,
            model: opts.model ?? config.detect.model,
            ...(opts.minScore === undefined ? {} : { minScore: opts.minScore }),
            ...(opts.annotate === undefined ? {} : { annotateDir: opts.annotate }),
            device: opts.device ? parseDevice(opts.device) : config.detect.device,
          },
          { config, logger, registry: new ModelRegistry({ modelsDir: config.modelsDir }), writeLine: (line) => process.stdout.write(`${line}\n`) },
        );
        process.exitCode = code;
      } catch (err) {
        // Failures before any file is read (unknown model, missing GPU) are
        // the command's, not a file's.
        if (err instanceof DetectionError) {
          process.stderr.write(`lookout detect: ${err.code}: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    });
}
