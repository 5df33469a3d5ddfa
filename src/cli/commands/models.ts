// `lookout models list|fetch`: the detection models on this host.
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { DetectionError, ModelRegistry, resolveModelPath } from '../../detection/index.js';
import { fetchModel, LicenseNotAcceptedError } from '../../models/fetch-model.js';
import type { CommandDeps } from '../command-deps.js';

export function register(program: Command, deps: CommandDeps): void {
  const models = program.command('models').description('detection models');
  models
    .command('list')
    .description('registered models: present or not, size, sha256, license')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = deps.config();
      const registry = new ModelRegistry({ modelsDir: config.modelsDir });
      const rows = await Promise.all(
        registry.all().map(async (spec) => {
          const file = resolveModelPath(spec);
          const size = await stat(file).then(
            (s) => s.size,
            () => null,
          );
          return {
            name: spec.name,
            present: size !== null,
            bytes: size,
            sha256: spec.sha256,
            license: spec.license,
            file,
            default: spec.name === config.detect.model,
          };
        }),
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify({ models: rows })}\n`);
      for (const r of rows) {
        process.stdout.write(
          `${r.name.padEnd(16)} ${r.present ? 'present' : 'absent '}  ${String(r.bytes ?? '-').padStart(9)}  ${r.license.padEnd(10)}  ${r.sha256}${r.default ? '  (default)' : ''}\n`,
        );
      }
    });
  models
    .command('fetch')
    .description('fetch a model that is not a dependency (needs --accept-license)')
    .argument('<name>', 'model name, e.g. yolov8n')
    .option('--accept-license <license>', "the model's license, accepted on purpose (e.g. agpl-3.0)")
    .action(async (name: string, opts: { acceptLicense?: string }) => {
      const config = deps.config();
      const registry = new ModelRegistry({ modelsDir: config.modelsDir });
      try {
        const result = await fetchModel(registry.get(name), { acceptLicense: opts.acceptLicense, log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(`${result.alreadyPresent ? 'already present' : 'fetched'}: ${result.path} (sha256 ${result.sha256})\n`);
      } catch (err) {
        if (err instanceof LicenseNotAcceptedError) {
          process.stderr.write(`${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        if (err instanceof DetectionError) {
          process.stderr.write(`lookout models fetch: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    });
}
