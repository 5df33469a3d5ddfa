// The `lookout` command line: thin doors onto the library. Each command
// parses its flags, loads the configuration once and calls a library function.

import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { DetectionError, formatDevice, ModelRegistry, parseDevice } from '../detection/index.js';
import { createLogger } from '../logging/logger.js';
import { runDetectCommand } from './detect-command.js';

function parseMinScore(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError('expected a number from 0 to 1.');
  }
  return n;
}

function parseDeviceOption(value: string): string {
  try {
    return formatDevice(parseDevice(value));
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** Loads the config or exits 2 naming each bad variable. */
function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lookout: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function buildProgram(): Command {
  const program = new Command('lookout')
    .description('Lookout: image detection on a job-queue worker fleet')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

  program
    .command('detect')
    .description('detect objects in image files; prints one JSON line per file')
    .argument('<file...>', 'image files (JPEG, PNG, WebP, GIF, TIFF)')
    .option('--model <name>', 'model to run (default: DETECT_MODEL, blazeface-back)')
    .option('--min-score <x>', "minimum score, 0..1 (default: the model's)", parseMinScore)
    .option('--annotate <dir>', 'write <dir>/<basename>.png with the detections drawn')
    .option('--device <device>', 'cpu or cuda:N (default: DETECT_DEVICE, cpu)', parseDeviceOption)
    .action(async (files: string[], opts: { model?: string; minScore?: number; annotate?: string; device?: string }) => {
      const config = configOrExit();
      const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 2 });
      try {
        const code = await runDetectCommand(
          {
            files,
            model: opts.model ?? config.detect.model,
            ...(opts.minScore === undefined ? {} : { minScore: opts.minScore }),
            ...(opts.annotate === undefined ? {} : { annotateDir: opts.annotate }),
            device: opts.device ? parseDevice(opts.device) : config.detect.device,
          },
          { config, logger, registry: new ModelRegistry(), writeLine: (line) => process.stdout.write(`${line}\n`) },
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

  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync(argv);
}
