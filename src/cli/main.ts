// The `lookout` command line: thin doors onto the library. Each command
// parses its flags, loads the configuration once and calls a library function.

import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { DetectionError, formatDevice, ModelRegistry, parseDevice, resolveModelPath } from '../detection/index.js';
import { fetchModel, LicenseNotAcceptedError } from '../models/fetch-model.js';
import { stat } from 'node:fs/promises';
import { createLogger } from '../logging/logger.js';
import { runDetectCommand } from './detect-command.js';
import { runSubmitCommand } from './submit-command.js';
import { runAll, runApi, runWorker } from './service-commands.js';
import { registerBackupCommands } from './backup-commands.js';
import { listWorkers, liveWindowMs } from '../db/repositories/workers.js';
import { formatWorkersTable } from './workers-table.js';
import { planFleet, resolveDevices, superviseFleet } from '../workers/supervisor.js';
import { controlQueue, listQueues, UnknownQueueError } from '../board/queue-control.js';
import { reconcile } from '../producers/reconcile.js';
import type { Services } from '../runtime/services.js';
import { withServices } from './with-services.js';
import type { Pool } from '../db/pool.js';
import { setUpDatabase } from '../db/set-up-database.js';
import { databaseCliError, ownerConnection, withDatabase } from './with-database.js';
import { databaseNameOf } from '../db/server-admin.js';
import { CliError } from './cli-error.js';
import { parseMinScore } from '../text/min-score.js';
import { migrateDown, pendingMigrations } from '../db/migrate.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import { createApiKey, revokeKey } from '../auth/api-keys.js';
import { listApiKeys } from '../db/repositories/api-keys.js';
import { maskSecrets } from '../config/mask-secrets.js';
import { configWarnings } from '../config/config-warnings.js';
import { ROLES, type Role } from '../db/repositories/api-keys.js';
import { KNOWN_QUEUES } from '../jobs/registry.js';

function parseQueues(value: string): string[] {
  const queues = [...new Set(value.split(',').map((q) => q.trim()).filter(Boolean))];
  const unknown = queues.filter((q) => !KNOWN_QUEUES.includes(q));
  if (queues.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`unknown queue(s) ${unknown.join(', ')}; known: ${KNOWN_QUEUES.join(', ')}.`);
  }
  return queues;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1.');
  return n;
}

function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}.`);
  return value as Role;
}

/** A logger for service commands: stdout, pretty in development. */
function serviceLogger(config: Config) {
  return createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 1 });
}

/** --min-score: the grammar of every minScore (src/text/min-score.ts); blank means the model's default. */
function minScoreOption(value: string): number | undefined {
  try {
    return parseMinScore(value);
  } catch {
    throw new InvalidArgumentError("expected a decimal number from 0 to 1, such as 0.5 (blank: the model's default).");
  }
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
    .option('--min-score <x>', "minimum score, 0..1 (default: the model's)", minScoreOption)
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

  program
    .command('submit')
    .description('upload images to a Lookout server (LOOKOUT_URL, LOOKOUT_API_KEY) as batches; --wait for the results')
    .argument('<path...>', 'image files and folders (walked recursively; only images are sent)')
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

  program
    .command('all')
    .description('migrations, API, Bull Board, one detect worker and one ops worker in one process (npm start)')
    .action(async () => {
      const config = configOrExit();
      await runAll(config, serviceLogger(config)).catch((err: unknown) => {
        throw databaseCliError(err, config.databaseUrl);
      });
    });

  program
    .command('api')
    .description('the HTTP API and Bull Board alone')
    .action(async () => {
      const config = configOrExit();
      await runApi(config, serviceLogger(config)).catch((err: unknown) => {
        throw databaseCliError(err, config.databaseUrl);
      });
    });

  program
    .command('worker')
    .description('a worker process for the given queues')
    .option('--queues <list>', `comma-separated queues (known: ${KNOWN_QUEUES.join(', ')})`, parseQueues, [...KNOWN_QUEUES])
    .option('--device <device>', 'cpu or cuda:N for detection (default: DETECT_DEVICE)', parseDeviceOption)
    .option('--concurrency <n>', 'jobs in flight per queue (default: DETECT_CONCURRENCY)', parsePositiveInt)
    .action(async (opts: { queues: string[]; device?: string; concurrency?: number }) => {
      const config = configOrExit();
      await runWorker(config, serviceLogger(config), {
        queues: opts.queues,
        ...(opts.device ? { device: parseDevice(opts.device) } : {}),
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      }).catch((err: unknown) => {
        throw databaseCliError(err, config.databaseUrl);
      });
    });

  program
    .command('fleet')
    .description("supervise this host's worker processes: detect workers per device and ops workers, restarted with backoff")
    .option('--devices <list>', 'auto (every GPU nvidia-smi lists, else cpu), cpu, or cuda:0,cuda:1', 'auto')
    .option('--detect-per-device <n>', 'detect worker processes per device', parsePositiveInt, 1)
    .option('--ops <k>', 'ops worker processes', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0.');
      return n;
    }, 1)
    .option('--concurrency <n>', 'jobs in flight per detect worker (default: DETECT_CONCURRENCY)', parsePositiveInt)
    .action(async (opts: { devices: string; detectPerDevice: number; ops: number; concurrency?: number }) => {
      const config = configOrExit();
      const logger = serviceLogger(config);
      const devices = await resolveDevices(opts.devices);
      for (const d of devices) parseDeviceOption(d);
      const fleet = superviseFleet(planFleet(devices, opts.detectPerDevice, opts.ops, opts.concurrency), { logger });
      let stopping = false;
      const stop = () => {
        if (stopping) process.exit(1);
        stopping = true;
        void fleet.stop().then(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });

  const migrate = program.command('migrate').description('database migrations');
  migrate
    .command('up')
    .description('create the database if needed, apply every pending migration and (DATABASE_OWNER_URL set) grant the application role its rights')
    .action(async () => {
      const config = configOrExit();
      const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 2 });
      const owner = ownerConnection(config);
      try {
        const { created, applied, grantedTo } = await setUpDatabase(config, logger);
        if (created) process.stderr.write(`created database ${databaseNameOf(config.databaseUrl)}\n`);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n');
        if (grantedTo) process.stdout.write(`granted ${grantedTo} its rights (audit_log: SELECT and INSERT only)\n`);
      } catch (err) {
        throw databaseCliError(err, owner.url, owner.variable);
      }
    });
  migrate
    .command('down')
    .description('revert the last migration (or --steps N)')
    .option('--steps <n>', 'how many migrations to revert', parsePositiveInt, 1)
    .action(async (opts: { steps: number }) => {
      const config = configOrExit();
      const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, destination: 2 });
      await withDatabase(
        config,
        async (pool) => {
          // Nothing applied: nothing to revert, and nothing written (umzug would create its table).
          if ((await pendingMigrations(pool)).length === MIGRATIONS.length) return void process.stdout.write('nothing to revert\n');
          const reverted = await migrateDown(pool, opts.steps, logger);
          process.stdout.write(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
        },
        { requireMigrated: false, asOwner: true },
      );
    });

  const keys = program.command('keys').description('API keys');
  // Never creates or migrates: a wrong DATABASE_URL is an error, not a new empty database.
  const withPool = (work: (pool: Pool) => Promise<void>) => withDatabase(configOrExit(), work);
  keys
    .command('create')
    .description('create an API key; prints only the key (shown once, stored hashed)')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, parseRole, 'viewer' as Role)
    .option('--expires-in-days <n>', 'the key stops working after this many days', parsePositiveInt)
    .action((opts: { name: string; role: Role; expiresInDays?: number }) =>
      withPool(async (pool) => {
        const expiresAt = opts.expiresInDays ? new Date(Date.now() + opts.expiresInDays * 86_400_000) : null;
        const key = await createApiKey(pool, { name: opts.name, role: opts.role, actor: 'cli', expiresAt });
        process.stdout.write(`${key.token}\n`);
      }),
    );
  keys
    .command('list')
    .description('every key: id, name, role, created, expiry, revocation, last use (never the secret)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withPool(async (pool) => {
        const list = await listApiKeys(pool);
        if (opts.json) return void process.stdout.write(`${JSON.stringify({ keys: list })}\n`);
        for (const k of list) {
          const state = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt < new Date() ? 'expired' : 'active';
          process.stdout.write(`${k.id}  ${k.role.padEnd(9)}  ${state.padEnd(7)}  ${k.name}  last used ${k.lastUsedAt?.toISOString() ?? 'never'}\n`);
        }
      }),
    );
  keys
    .command('revoke')
    .description('revoke a key by its id (the 8 hex characters after lk_)')
    .argument('<id>', 'key id')
    .action((id: string) =>
      withPool(async (pool) => {
        if (!(await revokeKey(pool, id, 'cli'))) {
          process.stderr.write(`lookout keys revoke: no active key ${id}\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(`revoked ${id}\n`);
      }),
    );

  const configCommand = program.command('config').description('configuration');
  configCommand
    .command('check')
    .description('validate the environment and print the effective configuration, secrets masked; warnings on stderr')
    .action(() => {
      const config = configOrExit();
      process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
      for (const warning of configWarnings(config)) process.stderr.write(`lookout config check: warning: ${warning}\n`);
    });

  program
    .command('workers')
    .description('the fleet: live worker processes, and those stopped or missing within WORKER_HISTORY_HOURS')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = configOrExit();
      await withDatabase(config, async (pool) => {
        const workers = await listWorkers(pool, liveWindowMs(config.heartbeatMs), config.workerHistoryHours);
        process.stdout.write(opts.json ? `${JSON.stringify({ workers })}
` : formatWorkersTable(workers, config.workerHistoryHours));
      });
    });

  const queuesCommand = program.command('queues').description('queue control (audited)');
  const withQueues = (work: (services: Services) => Promise<void>) =>
    withServices(configOrExit(), work).catch((err: unknown) => {
      if (!(err instanceof UnknownQueueError)) throw err;
      process.stderr.write(`lookout queues: ${err.message}\n`);
      process.exitCode = 2;
    });
  queuesCommand
    .command('list')
    .description('every queue: paused or not, jobs per state')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withQueues(async (services) => {
        const list = await listQueues(services.queues);
        if (opts.json) return void process.stdout.write(`${JSON.stringify({ queues: list })}\n`);
        for (const q of list) {
          const c = q.counts;
          process.stdout.write(`${q.name.padEnd(8)} ${q.paused ? 'PAUSED ' : 'running'}  waiting ${c.waiting ?? 0}  active ${c.active ?? 0}  delayed ${c.delayed ?? 0}  failed ${c.failed ?? 0}  completed ${c.completed ?? 0}\n`);
        }
      }),
    );
  for (const action of ['pause', 'resume', 'retry-failed'] as const) {
    queuesCommand
      .command(action)
      .description(`${action} a queue`)
      .argument('<queue>', `one of ${KNOWN_QUEUES.join(', ')}`)
      .action((name: string) =>
        withQueues(async (services) => {
          const result = await controlQueue({ queues: services.queues, pool: services.pool }, name, action, 'cli');
          process.stdout.write(`${JSON.stringify(result)}\n`);
        }),
      );
  }
  queuesCommand
    .command('clean')
    .description('remove finished jobs older than --older-than-minutes')
    .argument('<queue>', `one of ${KNOWN_QUEUES.join(', ')}`)
    .option('--state <state>', 'completed or failed', 'completed')
    .option('--older-than-minutes <n>', 'age of the jobs to remove', parsePositiveInt, 60)
    .action((name: string, opts: { state: string; olderThanMinutes: number }) =>
      withQueues(async (services) => {
        if (opts.state !== 'completed' && opts.state !== 'failed') throw new InvalidArgumentError('--state must be completed or failed');
        const result = await controlQueue({ queues: services.queues, pool: services.pool }, name, 'clean', 'cli', {
          state: opts.state,
          olderThanMs: opts.olderThanMinutes * 60_000,
        });
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }),
    );

  const models = program.command('models').description('detection models');
  models
    .command('list')
    .description('registered models: present or not, size, sha256, license')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = configOrExit();
      const registry = new ModelRegistry({ modelsDir: config.modelsDir });
      const rows = await Promise.all(
        registry.all().map(async (spec) => {
          const file = resolveModelPath(spec);
          const size = await stat(file).then((s) => s.size, () => null);
          return { name: spec.name, present: size !== null, bytes: size, sha256: spec.sha256, license: spec.license, file, default: spec.name === config.detect.model };
        }),
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify({ models: rows })}\n`);
      for (const r of rows) {
        process.stdout.write(`${r.name.padEnd(16)} ${r.present ? 'present' : 'absent '}  ${String(r.bytes ?? '-').padStart(9)}  ${r.license.padEnd(10)}  ${r.sha256}${r.default ? '  (default)' : ''}\n`);
      }
    });
  models
    .command('fetch')
    .description('fetch a model that is not a dependency (needs --accept-license)')
    .argument('<name>', 'model name, e.g. yolov8n')
    .option('--accept-license <license>', "the model's license, accepted on purpose (e.g. agpl-3.0)")
    .action(async (name: string, opts: { acceptLicense?: string }) => {
      const config = configOrExit();
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

  program
    .command('reconcile')
    .description('find work Postgres says is unfinished and the queues lost, and enqueue it again')
    .option('--dry-run', 'report only; change nothing')
    .option('--json', 'print {"requeuedImages", "finalisedBatches", "restoredSchedulers"}')
    .action((opts: { dryRun?: boolean; json?: boolean }) =>
      withQueues(async (services) => {
        const result = await reconcile({ ...services, onAction: () => undefined }, { dryRun: Boolean(opts.dryRun) });
        const { requeuedImages, finalisedBatches, restoredSchedulers } = result;
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ requeuedImages, finalisedBatches, restoredSchedulers, dryRun: result.dryRun })}\n`
            : `${opts.dryRun ? 'would re-enqueue' : 're-enqueued'} ${requeuedImages} images, ${opts.dryRun ? 'would finalise' : 'finalised'} ${finalisedBatches} batches, ${opts.dryRun ? 'would restore' : 'restored'} ${restoredSchedulers} schedulers\n`,
        );
      }),
    );

  registerBackupCommands(program, configOrExit);

  return program;
}

/** Runs the command line; an expected failure (CliError) prints its message and sets the exit code, with no stack trace. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // `lookout backup list | head`: the reader went away; nothing more to say.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`lookout: ${err.message}\n`);
    // A server process that failed to start may still hold connections open.
    process.exit(err.exitCode);
  }
}
