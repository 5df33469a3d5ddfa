// `lookout queues list|pause|resume|retry-failed|clean|concurrency`: queue control, audited as actor cli.
import { InvalidArgumentError, type Command } from 'commander';
import { KNOWN_QUEUES } from '../../jobs/registry.js';
import { controlQueue, listQueues, setGlobalConcurrency } from '../../board/queue-control.js';
import { CLEAN_STATES, GLOBAL_CONCURRENCY_MAX } from '../../wire/queues.js';
import type { CommandDeps } from '../command-deps.js';
import { parsePositiveInt } from '../options.js';
import { withQueues } from '../with-services.js';

export function register(program: Command, deps: CommandDeps): void {
  const queuesCommand = program.command('queues').description('queue control (audited)');
  queuesCommand
    .command('list')
    .description('every queue: paused or not, jobs per state')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withQueues(deps.config(), async (services) => {
        const list = await listQueues(services.queues);
        if (opts.json) return void process.stdout.write(`${JSON.stringify({ queues: list })}\n`);
        for (const q of list) {
          const c = q.counts;
          process.stdout.write(
            `${q.name.padEnd(8)} ${q.paused ? 'PAUSED ' : 'running'}  waiting ${c.waiting ?? 0}  active ${c.active ?? 0}  delayed ${c.delayed ?? 0}  failed ${c.failed ?? 0}  completed ${c.completed ?? 0}  global concurrency ${q.globalConcurrency ?? '-'}\n`,
          );
        }
      }),
    );
  for (const action of ['pause', 'resume', 'retry-failed'] as const) {
    queuesCommand
      .command(action)
      .description(`${action} a queue`)
      .argument('<queue>', `one of ${KNOWN_QUEUES.join(', ')}`)
      .action((name: string) =>
        withQueues(deps.config(), async (services) => {
          const result = await controlQueue(
            { queues: services.queues, pool: services.pool, flows: services.flows, prefix: services.config.queuePrefix },
            name,
            action,
            'cli',
          );
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
      withQueues(deps.config(), async (services) => {
        const state = CLEAN_STATES.find((s) => s === opts.state);
        if (!state) throw new InvalidArgumentError('--state must be completed or failed');
        const result = await controlQueue({ queues: services.queues, pool: services.pool }, name, 'clean', 'cli', {
          state,
          olderThanMs: opts.olderThanMinutes * 60_000,
        });
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }),
    );
  queuesCommand
    .command('concurrency')
    .description("set a queue's global concurrency: jobs active at once across all workers (running workers obey it; --concurrency stays each one's ceiling)")
    .argument('<queue>', `one of ${KNOWN_QUEUES.join(', ')}`)
    .argument('<n>', `1..${GLOBAL_CONCURRENCY_MAX}, or "off" to remove the limit`, parseGlobalConcurrency)
    .action((name: string, n: number | null) =>
      withQueues(deps.config(), async (services) => {
        const result = await setGlobalConcurrency({ queues: services.queues, pool: services.pool }, name, n, 'cli');
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }),
    );
}

function parseGlobalConcurrency(value: string): number | null {
  if (value === 'off') return null;
  const n = parsePositiveInt(value);
  if (n > GLOBAL_CONCURRENCY_MAX) throw new InvalidArgumentError(`expected at most ${GLOBAL_CONCURRENCY_MAX}, or off.`);
  return n;
}
