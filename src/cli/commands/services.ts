// `lookout all|api|worker`: the long-running commands and their shutdown: the first
// SIGTERM/SIGINT drains (stop taking jobs, finish active ones within
// SHUTDOWN_GRACE_MS, close connections, exit 0); a second exits at once.

import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import { unusedVariableWarnings } from '../../config/config-warnings.js';
import type { Device } from '../../detection/index.js';
import { openServices, type Services } from '../../runtime/services.js';
import { prepareDatabase } from '../../runtime/prepare-database.js';
import { startApi } from '../../api/server.js';
import { defaultWorkerQueues, opsQueuesFor, startWorkerProcess } from '../../workers/worker-process.js';
import { guardMemory } from '../../workers/memory-guard.js';
import { detectImage } from '../../jobs/detect-image/definition.js';
import { reconcile } from '../../producers/reconcile.js';
import { keepSchedules } from '../../producers/schedule-keeper.js';
import { startMetricsServer } from '../../metrics/metrics-server.js';
import { parseDevice } from '../../detection/index.js';
import { KNOWN_QUEUES } from '../../jobs/registry.js';
import type { CommandDeps } from '../command-deps.js';
import { serviceLogger } from '../command-logger.js';
import { parseDeviceOption, parsePositiveInt, parseQueues } from '../options.js';
import { databaseCliError } from '../with-database.js';
import { CliError } from '../cli-error.js';
import { PITR_QUEUE } from '../../jobs/pitr-backup/definition.js';
import { shutdownTracing } from '../../tracing/start-tracing.js';

type Stoppable = { close(): Promise<void> };

/** The server process's logger, having said what in the configuration has no effect (unusedVariableWarnings). */
function startLogger(config: Config): Logger {
  const logger = serviceLogger(config);
  for (const warning of unusedVariableWarnings(config)) logger.warn(warning);
  return logger;
}

/** How long a signal received while the process is still starting waits for the start to finish before closing what has started (ms). */
export const STARTUP_GRACE_MS = 15_000;

/**
 * Owns SIGTERM and SIGINT from the moment it is called, before anything has
 * started: with no listener, Node dies at once on SIGTERM, and a worker
 * signalled between registering itself and listening would leave a row that
 * looks live and jobs locked until they stall. The first signal waits for
 * `startup` (at most STARTUP_GRACE_MS), then closes `parts` (as pushed so
 * far, in order) and the services, exports the spans not yet sent (a traced
 * process), and exits with `exitCode` (0 for a
 * signal); a second signal exits 1 at once. Returns `stop`, for the memory
 * guard.
 */
function onShutdown(
  logger: Logger,
  services: Services,
  parts: Stoppable[],
  startup: Promise<unknown> = Promise.resolve(),
): (reason: string, exitCode?: number) => void {
  let stopping = false;
  const stop = (reason: string, exitCode = 0) => {
    if (stopping) {
      logger.warn({ reason }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    void (async () => {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        startup.catch(() => undefined),
        new Promise((resolve) => {
          grace = setTimeout(resolve, STARTUP_GRACE_MS);
        }),
      ]);
      clearTimeout(grace);
      for (const part of parts) await part.close().catch((err: unknown) => logger.error({ err }, 'error while closing'));
      await services.close().catch(() => undefined);
      // The spans of the last jobs still waiting in the exporter's batch.
      await shutdownTracing();
      logger.info('stopped');
      process.exit(exitCode);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}

/**
 * At worker start, and when Redis comes back (it may have come back empty):
 * finish whatever Postgres says is unfinished and the queues forgot. Never
 * blocks the caller.
 */
function reconcileInBackground(services: Services, when: 'start' | 'reconnect'): void {
  reconcile({ ...services, onAction: (kind, n) => services.metrics.reconcileActions.inc({ kind }, n) }).catch((err: unknown) =>
    services.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `reconciler at ${when} failed; the scheduled run will retry`),
  );
}

/** The schedulers of the queues this process consumes: synced now and after every Redis reconnect. */
function keepSchedulesOf(services: Services, queues: readonly string[]) {
  return keepSchedules(services, queues, { afterReconnect: () => reconcileInBackground(services, 'reconnect') });
}

export async function runAll(config: Config, logger: Logger): Promise<void> {
  const services = openServices(config, logger);
  const parts: Stoppable[] = [];
  // The API listens first, so that /healthz answers and Postgres reads work
  // even while the workers wait for Redis; /readyz says not ready until they run.
  let starting: string | undefined = 'starting: the detect and ops workers wait for Redis';
  const startup = (async () => {
    await prepareDatabase(services);
    parts.push(await startApi(services, config.port, { startup: { pending: () => starting } }));
    // pitr only with PGBACKREST_CONFIG: Lookout then runs on the database host, as its OS user.
    const opsQueues = opsQueuesFor(config);
    await keepSchedulesOf(services, opsQueues);
    const detect = await startWorkerProcess(services, { queues: [detectImage.queue], concurrency: config.worker.concurrency });
    parts.push({ close: () => detect.close() });
    const ops = await startWorkerProcess(services, { queues: opsQueues, concurrency: 4 });
    parts.push({ close: () => ops.close() });
  })();
  onShutdown(logger, services, parts, startup);
  await startup;
  starting = undefined;
  reconcileInBackground(services, 'start');
}

export async function runApi(config: Config, logger: Logger): Promise<void> {
  const services = openServices(config, logger);
  const parts: Stoppable[] = [];
  const startup = (async () => {
    parts.push(await startApi(services));
  })();
  onShutdown(logger, services, parts, startup);
  await startup;
}

export async function runWorker(config: Config, logger: Logger, options: { queues: string[]; device?: Device; concurrency?: number }): Promise<void> {
  const services = openServices(config, logger);
  const parts: Stoppable[] = [];
  const startup = (async () => {
    await keepSchedulesOf(services, options.queues);
    const worker = await startWorkerProcess(services, {
      queues: options.queues,
      concurrency: options.concurrency ?? config.worker.concurrency,
      ...(options.device ? { device: options.device } : {}),
    });
    parts.push({ close: () => worker.close() });
    reconcileInBackground(services, 'start');
    if (config.metricsPort !== undefined) {
      const metrics = await startMetricsServer(services.metrics, config.metricsPort);
      logger.info({ port: metrics.port }, 'metrics listening');
      parts.push(metrics);
    }
  })();
  const stop = onShutdown(logger, services, parts, startup);
  await startup;
  guardMemory(config, logger, stop);
}

export function register(program: Command, deps: CommandDeps): void {
  program
    .command('all')
    .description('migrations, API, Bull Board, one detect worker and one ops worker in one process (npm start)')
    .action(async () => {
      const config = deps.config();
      await runAll(config, startLogger(config)).catch((err: unknown) => {
        throw databaseCliError(err, config.databaseUrl);
      });
    });

  program
    .command('api')
    .description('the HTTP API and Bull Board alone')
    .action(async () => {
      const config = deps.config();
      await runApi(config, startLogger(config)).catch((err: unknown) => {
        throw databaseCliError(err, config.databaseUrl);
      });
    });

  program
    .command('worker')
    .description('a worker process for the given queues')
    .option('--queues <list>', `comma-separated queues (known: ${KNOWN_QUEUES.join(', ')}; default: all, pitr only with PGBACKREST_CONFIG)`, parseQueues)
    .option('--device <device>', 'cpu or cuda:N for detection (default: DETECT_DEVICE)', parseDeviceOption)
    .option('--concurrency <n>', 'jobs in flight per queue (default: DETECT_CONCURRENCY)', parsePositiveInt)
    .action(async (opts: { queues?: string[]; device?: string; concurrency?: number }) => {
      const config = deps.config();
      if (opts.queues?.includes(PITR_QUEUE) && !config.pitr.configFile) {
        throw new CliError(
          'the pitr queue needs PGBACKREST_CONFIG: run its worker on the database host, as the database OS user, with pgBackRest configured (README, "Point-in-time recovery")',
          2,
        );
      }
      await runWorker(config, startLogger(config), {
        queues: opts.queues ?? defaultWorkerQueues(config),
        ...(opts.device ? { device: parseDevice(opts.device) } : {}),
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      }).catch((err: unknown) => {
        throw databaseCliError(err, config.databaseUrl);
      });
    });
}
