// Filesystem blob store: <dir>/<ab>/<cd>/<sha256>. Bytes stream to a temp
// file (<dir>/tmp/<uuid>.part) while being hashed and counted, then are
// renamed into place (atomic on one filesystem), so a reader never sees half
// a blob and a crash leaves only a temp file behind (sweepTemporary). The
// directory is created on the first upload, never before: a process that only
// reads makes nothing.

import { randomUUID } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import { once } from 'node:events';
import { access, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, blobPath, keyOfBlobPath, type BlobStore, type ListedBlob, type PutOptions, type StoredBlob } from './blob-store.js';
import { meteredStream } from './metered-stream.js';

/** The name put() gives a temporary file under <dir>/tmp. */
const TEMP_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;

/** The entries of `dir`; none when it does not exist (nothing uploaded yet). */
async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** stat(), or undefined for a file removed since it was listed. */
async function statIfThere(file: string) {
  try {
    return await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A blob store in the directory `root` (absolute, or relative to the working directory). */
export function createFsBlobStore(root: string): BlobStore {
  const tmpDir = path.join(root, 'tmp');
  const pathOf = (key: string): string => path.join(root, ...blobPath(key).split('/'));

  return {
    location: root,

    async put(source: Readable, options: PutOptions): Promise<StoredBlob> {
      await mkdir(tmpDir, { recursive: true });
      const tmp = path.join(tmpDir, `${randomUUID()}.part`);
      const meter = meteredStream(options);
      // Large write buffers: one write per megabyte, not per 16 KiB chunk.
      const sink = createWriteStream(tmp, { highWaterMark: 1024 * 1024 });
      try {
        await pipeline(source, meter.transform, sink, ...(options.signal ? [{ signal: options.signal }] : []));
        const sha256 = meter.sha256();
        const final = pathOf(sha256);
        await mkdir(path.dirname(final), { recursive: true });
        // Replaces a blob already there (the same bytes) and so renews its mtime (FRESH_BLOB_MS).
        await rename(tmp, final);
        return { key: sha256, sha256, bytes: meter.bytes() };
      } catch (err) {
        // The file may still be opening: remove it only once the stream has closed.
        if (!sink.closed) await once(sink, 'close').catch(() => undefined);
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async get(key: string): Promise<Buffer> {
      try {
        return await readFile(pathOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(key);
        throw err;
      }
    },

    async has(key: string): Promise<boolean> {
      try {
        await access(pathOf(key));
        return true;
      } catch {
        return false;
      }
    },

    async delete(key: string): Promise<void> {
      await rm(pathOf(key), { force: true });
    },

    async *list(): AsyncIterable<ListedBlob> {
      // Two levels of at most 256 directories, then the blobs: walked one directory at a time.
      for (const ab of await entriesOf(root)) {
        if (!ab.isDirectory() || !/^[0-9a-f]{2}$/.test(ab.name)) continue;
        for (const cd of await entriesOf(path.join(root, ab.name))) {
          if (!cd.isDirectory() || !/^[0-9a-f]{2}$/.test(cd.name)) continue;
          for (const file of await entriesOf(path.join(root, ab.name, cd.name))) {
            const key = keyOfBlobPath(`${ab.name}/${cd.name}/${file.name}`);
            if (!file.isFile() || !key) continue;
            const stats = await statIfThere(path.join(root, ab.name, cd.name, file.name));
            if (stats) yield { key, bytes: stats.size, modifiedAt: stats.mtime };
          }
        }
      }
    },

    async sweepTemporary(olderThan: Date, options: { dryRun?: boolean } = {}) {
      let removed = 0;
      let bytes = 0;
      for (const entry of await entriesOf(tmpDir)) {
        // Only what put() writes there (<uuid>.part): anything else in the folder is not Lookout's.
        if (!entry.isFile() || !TEMP_NAME.test(entry.name)) continue;
        const file = path.join(tmpDir, entry.name);
        const stats = await statIfThere(file);
        if (!stats || stats.mtime >= olderThan) continue;
        if (!options.dryRun) await rm(file, { force: true });
        removed += 1;
        bytes += stats.size;
      }
      return { removed, bytes };
    },

    async check(): Promise<void> {
      // The directory, or before the first upload the nearest ancestor it will be made in.
      for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
        const stats = await statIfThere(dir);
        if (stats) {
          if (!stats.isDirectory()) throw new Error(`${dir} is not a directory`);
          return;
        }
        if (path.dirname(dir) === dir) return;
      }
    },
  };
}
