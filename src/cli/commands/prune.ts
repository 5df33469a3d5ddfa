// `lookout prune --older-than DAYS [--dry-run] [--json]`: retention run once
// by hand (src/retention/prune.ts) as the operator at the CLI (`cli` in the
// audit trail). Needs Postgres and the blob store, not Redis.
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { retentionDays } from '../../config/env-schema.js';
import { prune, type PruneCounts, type PruneProgress } from '../../retention/prune.js';
import { openBlobStore } from '../../blobs/open-blob-store.js';
import { formatBytes, plural } from '../../text/format.js';
import type { CommandDeps } from '../command-deps.js';
import { withDatabase } from '../with-database.js';

/** --older-than: the same grammar as RETENTION_DAYS (a number of days, 0 or more); anything else exits 2 saying so. */
export function parseOlderThan(value: string): number {
  const parsed = retentionDays.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`${parsed.error.issues[0]?.message ?? 'expected a number of days'}, got "${value}".`);
  return parsed.data;
}

/**
 * Progress on stderr for a large prune, never with --json: a bar on a
 * terminal, else a line every 5 s (cli-progress's non-TTY mode, for cron
 * mail and logs). Started by the first report, after the first chunk.
 */
function progressOnStderr(json: boolean, stream: NodeJS.WriteStream = process.stderr) {
  if (json) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: 'prune {phase} [{bar}] {value}/{total} batches | {images} images, {blobs} blobs, {size}',
    stream,
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 5000,
  });
  let started = false;
  return {
    update(p: PruneProgress) {
      const payload = { phase: p.phase, images: p.images, blobs: p.blobs, size: formatBytes(p.bytes) };
      const total = Math.max(p.batchesTotal, p.batches, 1);
      if (!started) bar.start(total, p.batches, payload);
      started = true;
      bar.setTotal(total);
      bar.update(p.batches, payload);
    },
    stop: () => started && bar.stop(),
  };
}

/** The summary line without --json. */
export function pruneSummary(c: PruneCounts, dryRun: boolean): string {
  const what = `${plural(c.batches, 'batch', 'batches')}, ${plural(c.images, 'image')}, ${plural(c.blobs, 'blob')} (${formatBytes(c.bytes)})`;
  return dryRun ? `would delete ${what}; nothing deleted (--dry-run)` : `deleted ${what}`;
}

export function register(program: Command, deps: CommandDeps): void {
  program
    .command('prune')
    .description('delete finished batches older than DAYS with their images and detections, every blob no remaining image uses, and orphan blobs')
    .requiredOption('--older-than <days>', 'batches finished more than DAYS days ago (0: every finished batch; decimals allowed)', parseOlderThan)
    .option('--dry-run', 'count only; delete nothing')
    .option('--json', 'print {"batches", "images", "blobs", "bytes"}')
    .action((opts: { olderThan: number; dryRun?: boolean; json?: boolean }) => {
      const config = deps.config();
      // Two connections: one holds the prune's lock while the other runs its transactions.
      return withDatabase(
        config,
        async (pool, logger) => {
          const progress = progressOnStderr(Boolean(opts.json));
          let report;
          const store = openBlobStore(config, logger);
          try {
            report = await prune(
              { pool, blobs: store.blobs, logger, now: () => new Date() },
              { olderThanDays: opts.olderThan, dryRun: Boolean(opts.dryRun), actor: 'cli', onProgress: (p) => progress.update(p) },
            );
          } finally {
            progress.stop();
            store.close();
          }
          const { batches, images, blobs, bytes } = report;
          process.stdout.write(opts.json ? `${JSON.stringify({ batches, images, blobs, bytes })}\n` : `${pruneSummary(report, report.dryRun)}\n`);
        },
        { connections: 2 },
      );
    });
}
