// Retention: `lookout prune --older-than DAYS` and the daily retention-prune
// job (RETENTION_DAYS) run this. Finished batches whose finish is older than
// DAYS go with their images and detections, then every blob no remaining
// image references, then the orphan sweep. A library: the blob store, the
// pool, the logger and the clock come in as arguments, so the same code (and
// the same test) runs over any BlobStore.
//
// Order, so that a crash anywhere leaves a consistent state: rows first, a
// chunk per transaction (a big prune never holds one giant transaction, and
// a crash keeps every chunk committed before it), then the blobs those rows
// used, checked again under the blob-removal lock. A crash between the two
// leaves blobs with no row: orphans, which the sweep of the next prune
// removes once they are an hour old. Never a row whose blob is gone.
//
// One prune at a time across the fleet (a Postgres advisory lock; a second
// waits): two at once would each count the other's blobs.
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import { withAdvisoryLock } from '../db/advisory-lock.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { countPrunable, countPrunableBatches, deletePrunableBatches, prunableBatches } from '../db/repositories/retention.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { sweepOrphanBlobs } from './orphan-sweep.js';
import { removeUnreferencedBlobs } from './remove-blobs.js';

const DAY_MS = 86_400_000;
const PRUNE_LOCK = 0x70726e65; // 'prne'

/** What `lookout prune --json` prints: batches and images deleted, blobs deleted (the orphan sweep's included) and their bytes. */
export interface PruneCounts {
  batches: number;
  images: number;
  blobs: number;
  bytes: number;
}

/** The counts, and how they came about (the audit row's details, the job's result). */
export interface PruneReport extends PruneCounts {
  dryRun: boolean;
  olderThanDays: number;
  /** Batches finished at or before this instant (ISO 8601) were pruned. */
  cutoff: string;
  /** Of blobs/bytes, what the orphan sweep removed. */
  orphanBlobs: number;
  orphanBytes: number;
  /** The store's temp leftovers of cut-off uploads removed (not counted in blobs/bytes). */
  tempFiles: number;
  tempBytes: number;
  /** Blob deletes the store refused: left for a later sweep. */
  blobDeleteFailures: number;
}

/**
 * Where a prune stands, after each chunk and each orphan page: `batches` of
 * `batchesTotal` deleted (the total counted at the start; batches finishing
 * meanwhile are not pruned by this run), and the running counts.
 */
export interface PruneProgress extends PruneCounts {
  phase: 'batches' | 'orphans';
  batchesTotal: number;
}

export interface PruneDeps {
  pool: Pool;
  blobs: BlobStore;
  /** Warnings only (blob deletes the store refused); the caller reports the outcome. */
  logger: Pick<Logger, 'warn'>;
  now: () => Date;
}

export interface PruneOptions {
  /** Batches finished more than this many days ago go (0: every finished batch). A non-negative number; fractions allowed. */
  olderThanDays: number;
  dryRun?: boolean;
  /** Who asked, for the audit row: `cli`, `scheduler`, `key:<id>`. */
  actor: string;
  onProgress?: (progress: PruneProgress) => void;
  /** Chunk sizes: at most `batches` batches and (but at least one batch) about `images` images per transaction. */
  chunk?: { batches?: number; images?: number };
}

/** `olderThanDays` is not a non-negative number of days. */
export class InvalidRetentionError extends RangeError {
  override name = 'InvalidRetentionError';
}

/**
 * Deletes the finished batches older than `olderThanDays` with their images
 * and detections, then every own blob no remaining image references (by key,
 * the sha256: a blob a kept batch shares stays; objects submitted by
 * reference are never the store's to delete, see db/repositories/retention.ts),
 * then sweeps orphans. Audited as `retention.prune` with `actor` (outcome
 * `error` with the counts so far when it fails). With `dryRun`: counts only,
 * the same counts a run would report, nothing deleted, not audited.
 * @throws InvalidRetentionError when olderThanDays is negative or not a finite number (nothing done)
 * @throws what Postgres or the store's list throws; chunks committed before stay pruned
 */
export async function prune(deps: PruneDeps, options: PruneOptions): Promise<PruneReport> {
  const days = options.olderThanDays;
  if (!Number.isFinite(days) || days < 0) throw new InvalidRetentionError(`expected a number of days >= 0, got ${days}`);
  const now = deps.now();
  const cutoff = new Date(now.getTime() - days * DAY_MS);
  const report: PruneReport = {
    batches: 0,
    images: 0,
    blobs: 0,
    bytes: 0,
    dryRun: Boolean(options.dryRun),
    olderThanDays: days,
    cutoff: cutoff.toISOString(),
    orphanBlobs: 0,
    orphanBytes: 0,
    tempFiles: 0,
    tempBytes: 0,
    blobDeleteFailures: 0,
  };
  const sweep = (batchesTotal: number) =>
    sweepOrphanBlobs(deps, {
      now,
      dryRun: report.dryRun,
      onPage: (s) => options.onProgress?.({ phase: 'orphans', batchesTotal, ...counts(report), blobs: report.blobs + s.blobs, bytes: report.bytes + s.bytes }),
    }).then((s) => {
      report.orphanBlobs = s.blobs;
      report.orphanBytes = s.bytes;
      report.blobs += s.blobs;
      report.bytes += s.bytes;
      report.tempFiles = s.tempFiles;
      report.tempBytes = s.tempBytes;
      report.blobDeleteFailures += s.failed;
    });

  if (report.dryRun) {
    Object.assign(report, await countPrunable(deps.pool, cutoff));
    await sweep(report.batches);
    return report;
  }

  try {
    await withAdvisoryLock(deps.pool, PRUNE_LOCK, async () => {
      const batchesTotal = await countPrunableBatches(deps.pool, cutoff);
      await pruneBatches(deps, cutoff, report, batchesTotal, options);
      await sweep(batchesTotal);
    });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    await appendAudit(deps.pool, { actor: options.actor, action: 'retention.prune', outcome: 'error', details: { ...report, error } }).catch(() => undefined);
    throw err;
  }
  await appendAudit(deps.pool, { actor: options.actor, action: 'retention.prune', details: { ...report } });
  return report;
}

const counts = (r: PruneCounts): PruneCounts => ({ batches: r.batches, images: r.images, blobs: r.blobs, bytes: r.bytes });

/** The chunks: rows in a transaction each, then the blobs they freed. */
async function pruneBatches(deps: PruneDeps, cutoff: Date, report: PruneReport, batchesTotal: number, options: PruneOptions): Promise<void> {
  const maxBatches = options.chunk?.batches ?? 1000;
  const maxImages = options.chunk?.images ?? 50_000;
  for (;;) {
    const candidates = await prunableBatches(deps.pool, cutoff, maxBatches);
    if (candidates.length === 0) return;
    // A chunk of about maxImages images, but always at least one batch.
    const ids: string[] = [];
    let images = 0;
    for (const c of candidates) {
      if (ids.length > 0 && images + c.total > maxImages) break;
      ids.push(c.id);
      images += c.total;
    }
    const deleted = await withTransaction(deps.pool, (tx) => deletePrunableBatches(tx, ids, cutoff));
    // Every candidate locked by someone else (none is, one prune at a time, unless an operator holds them): stop, not spin.
    if (deleted.batches === 0) return;
    report.batches += deleted.batches;
    report.images += deleted.images;
    const removed = await removeUnreferencedBlobs(deps, deleted.blobs);
    report.blobs += removed.blobs;
    report.bytes += removed.bytes;
    report.blobDeleteFailures += removed.failed;
    options.onProgress?.({ phase: 'batches', batchesTotal, ...counts(report) });
  }
}
