// `lookout fleet`: supervises this host's worker processes (src/workers/supervisor.ts).
import type { Command } from 'commander';
import { planFleet, resolveDevices, superviseFleet } from '../../workers/supervisor.js';
import type { CommandDeps } from '../command-deps.js';
import { serviceLogger } from '../command-logger.js';
import { parseDeviceOption, parseNonNegativeInt, parsePositiveInt } from '../options.js';

export function register(program: Command, deps: CommandDeps): void {
  program
    .command('fleet')
    .description("supervise this host's worker processes: detect workers per device and ops workers, restarted with backoff")
    .option('--devices <list>', 'auto (every GPU nvidia-smi lists, else cpu), cpu, or cuda:0,cuda:1', 'auto')
    .option('--detect-per-device <n>', 'detect worker processes per device', parsePositiveInt, 1)
    .option('--ops <k>', 'ops worker processes', parseNonNegativeInt, 1)
    .option('--concurrency <n>', 'jobs in flight per detect worker (default: DETECT_CONCURRENCY)', parsePositiveInt)
    .action(async (opts: { devices: string; detectPerDevice: number; ops: number; concurrency?: number }) => {
      const config = deps.config();
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
}
