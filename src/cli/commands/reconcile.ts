// `lookout reconcile`: the reconciler run once by hand (src/producers/reconcile.ts).
import type { Command } from 'commander';
import { reconcile } from '../../producers/reconcile.js';
import type { CommandDeps } from '../command-deps.js';
import { withQueues } from '../with-services.js';

export function register(program: Command, deps: CommandDeps): void {
  program
    .command('reconcile')
    .description('find work Postgres says is unfinished and the queues lost, and enqueue it again')
    .option('--dry-run', 'report only; change nothing')
    .option('--json', 'print {"requeuedImages", "finalisedBatches", "restoredSchedulers"}')
    .action((opts: { dryRun?: boolean; json?: boolean }) =>
      withQueues(deps.config(), async (services) => {
        const result = await reconcile({ ...services, onAction: () => undefined }, { dryRun: Boolean(opts.dryRun) });
        const { requeuedImages, finalisedBatches, restoredSchedulers } = result;
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ requeuedImages, finalisedBatches, restoredSchedulers, dryRun: result.dryRun })}\n`
            : `${opts.dryRun ? 'would re-enqueue' : 're-enqueued'} ${requeuedImages} images, ${opts.dryRun ? 'would finalise' : 'finalised'} ${finalisedBatches} batches, ${opts.dryRun ? 'would restore' : 'restored'} ${restoredSchedulers} schedulers\n`,
        );
      }),
    );
}
