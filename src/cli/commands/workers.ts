// `lookout workers`: the fleet as the workers table records it.
import type { Command } from 'commander';
import { listWorkers, liveWindowMs } from '../../db/repositories/workers.js';
import type { CommandDeps } from '../command-deps.js';
import { withDatabase } from '../with-database.js';
import { formatWorkersTable } from '../workers-table.js';

export function register(program: Command, deps: CommandDeps): void {
  program
    .command('workers')
    .description('the fleet: live worker processes, and those stopped or missing within WORKER_HISTORY_HOURS')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = deps.config();
      await withDatabase(config, async (pool) => {
        const workers = await listWorkers(pool, liveWindowMs(config.heartbeatMs), config.workerHistoryHours);
        process.stdout.write(opts.json ? `${JSON.stringify({ workers })}\n` : formatWorkersTable(workers, config.workerHistoryHours));
      });
    });
}
