// The orphan sweep: blobs in the store that no image row references, left
// behind by crashes (a submit that died between its upload and its rows, a
// prune that died between deleting rows and blobs, a blob delete the store
// refused). Only blobs last written more than ORPHAN_MIN_AGE_MS ago count:
// an upload in flight has stored its blob but not yet inserted its rows, and
// must never lose it. The same age applies to the store's temp leftovers.
import type { BlobStore } from '../blobs/blob-store.js';
import { BLOB_PAGE, removeUnreferencedBlobs, type RemovalDeps } from './remove-blobs.js';

/** An hour: a blob younger than this may belong to an upload whose rows are not inserted yet. */
export const ORPHAN_MIN_AGE_MS = 3600_000;

export interface SweepResult {
  /** Orphan blobs removed (with dryRun: found), their bytes, and deletes the store refused. */
  blobs: number;
  bytes: number;
  failed: number;
  /** Blobs the store listed, orphans or not. */
  scanned: number;
  /** The store's temp leftovers (sweepTemporary) removed or found, and their bytes. */
  tempFiles: number;
  tempBytes: number;
}

export interface SweepOptions {
  /** The sweep's clock: blobs written before now − minAgeMs are old enough. */
  now: Date;
  dryRun: boolean;
  /** Default ORPHAN_MIN_AGE_MS. */
  minAgeMs?: number;
  /** After each page of old blobs checked: the totals so far. */
  onPage?: (sofar: SweepResult) => void;
}

/**
 * Lists the whole store (BlobStore.list, streamed) and removes every blob
 * older than the minimum age that no image row references, a page at a time
 * under the blob-removal lock (remove-blobs.ts); then the store's temp
 * leftovers of the same age, where it has any (BlobStore.sweepTemporary).
 * With dryRun nothing is removed and the counts say what would be.
 * @throws what the store's list throws, or Postgres; what was removed stays removed
 */
export async function sweepOrphanBlobs(deps: RemovalDeps & { blobs: BlobStore }, options: SweepOptions): Promise<SweepResult> {
  const olderThan = new Date(options.now.getTime() - (options.minAgeMs ?? ORPHAN_MIN_AGE_MS));
  const result: SweepResult = { blobs: 0, bytes: 0, failed: 0, scanned: 0, tempFiles: 0, tempBytes: 0 };
  let page: Array<{ key: string; bytes: number }> = [];
  const flush = async () => {
    const removed = await removeUnreferencedBlobs(deps, page, { dryRun: options.dryRun });
    page = [];
    result.blobs += removed.blobs;
    result.bytes += removed.bytes;
    result.failed += removed.failed;
    options.onPage?.({ ...result });
  };
  for await (const blob of deps.blobs.list()) {
    result.scanned++;
    if (blob.modifiedAt >= olderThan) continue;
    page.push({ key: blob.key, bytes: blob.bytes });
    if (page.length >= BLOB_PAGE) await flush();
  }
  if (page.length > 0) await flush();
  const temp = await deps.blobs.sweepTemporary(olderThan, { dryRun: options.dryRun });
  result.tempFiles = temp.removed;
  result.tempBytes = temp.bytes;
  return result;
}
