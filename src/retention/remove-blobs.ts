// Removing blobs that no image row references, safely against submits: each
// page of keys is checked and removed inside one transaction holding the
// blob-removal lock (src/db/repositories/blob-references.ts), so a submit
// inserting rows for one of these keys either committed first (the key is
// referenced and stays) or waits and then finds the blob recorded as removed
// (its request is refused whole, nothing dangling). Pages keep the lock short: submits
// wait at most one page of deletes.
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import { lockForBlobRemoval, recordBlobRemovals, unreferencedBlobKeys } from '../db/repositories/blob-references.js';
import { withTransaction, type Pool } from '../db/pool.js';

/** Keys checked and removed per hold of the blob-removal lock. */
export const BLOB_PAGE = 500;
/** Deletes in flight at once within a page (an S3 store pays a round trip each). */
const DELETES_IN_FLIGHT = 16;

export interface RemovalDeps {
  pool: Pool;
  blobs: BlobStore;
  logger: Pick<Logger, 'warn'>;
}

export interface RemovedBlobs {
  /** Blobs removed (or, with dryRun, that would be), and their bytes. */
  blobs: number;
  bytes: number;
  /** Deletes the store refused: left in place, for the orphan sweep of a later prune. */
  failed: number;
}

/**
 * Removes those of `candidates` (distinct keys, each with its size in bytes)
 * that no image row references, `BLOB_PAGE` keys per transaction. A delete
 * the store refuses is logged and counted in `failed`, never thrown: its row
 * is gone already, and the orphan sweep takes the blob later.
 * With `dryRun`, only counts what would go (no lock, nothing removed).
 * @throws what Postgres throws (the lock, the reference check): the blobs of
 *   earlier pages are removed, this page's are not
 */
export async function removeUnreferencedBlobs(
  deps: RemovalDeps,
  candidates: ReadonlyArray<{ key: string; bytes: number }>,
  options: { dryRun?: boolean } = {},
): Promise<RemovedBlobs> {
  const total: RemovedBlobs = { blobs: 0, bytes: 0, failed: 0 };
  for (let start = 0; start < candidates.length; start += BLOB_PAGE) {
    const page = candidates.slice(start, start + BLOB_PAGE);
    const size = new Map(page.map((c) => [c.key, c.bytes]));
    const counted = (keys: readonly string[]) => {
      total.blobs += keys.length;
      total.bytes += keys.reduce((n, key) => n + (size.get(key) ?? 0), 0);
    };
    if (options.dryRun) {
      counted(await unreferencedBlobKeys(deps.pool, [...size.keys()]));
      continue;
    }
    await withTransaction(deps.pool, async (tx) => {
      await lockForBlobRemoval(tx);
      const keys = await unreferencedBlobKeys(tx, [...size.keys()]);
      await recordBlobRemovals(tx, keys); // a submit that stored one of them meanwhile sees it
      const outcomes = await settleEach(keys, DELETES_IN_FLIGHT, (key) => deps.blobs.delete(key));
      const removed = keys.filter((_, i) => outcomes[i]!.status === 'fulfilled');
      const refused = keys.flatMap((key, i) => {
        const o = outcomes[i]!;
        return o.status === 'rejected' ? [{ key, err: o.reason instanceof Error ? o.reason.message : String(o.reason) }] : [];
      });
      if (refused.length > 0)
        deps.logger.warn({ failed: refused.length, first: refused[0] }, 'blob deletes refused; the orphan sweep of a later prune removes them');
      counted(removed);
      total.failed += refused.length;
    });
  }
  return total;
}

/** `fn` over every item, at most `limit` at once; the outcomes in the items' order. */
async function settleEach<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<Array<PromiseSettledResult<unknown>>> {
  const outcomes: Array<PromiseSettledResult<unknown>> = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      outcomes[i] = await fn(items[i]!).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return outcomes;
}
