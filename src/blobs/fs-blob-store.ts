// Filesystem blob store: <dir>/<ab>/<cd>/<sha256>. Bytes stream to a temp
// file (<dir>/tmp) while being hashed and counted, then are renamed into place
// (atomic on one filesystem), so a reader never sees half a blob and a crash
// leaves only a temp file behind, which sweepTemporary removes once old.

import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { access, mkdir, opendir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, BlobTooLargeError, type BlobStore, type PutOptions, type StoredBlob } from './blob-store.js';

const HEAD_BYTES = 64;
const INSPECT_BYTES = 64 * 1024;
const KEY = /^[0-9a-f]{64}$/;
const LEVEL = /^[0-9a-f]{2}$/;

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** The names of the directories in `dir` named like one level of the layout (two hex digits); none when it is missing. */
async function levelDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && LEVEL.test(e.name)).map((e) => e.name);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** Each plain file in `dir` with its stat, streamed (a directory may hold very many); nothing when it is missing. */
async function* filesIn(dir: string): AsyncGenerator<{ name: string; file: string; stats: Stats }> {
  let handle;
  try {
    handle = await opendir(dir);
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  for await (const entry of handle) {
    if (!entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    let stats: Stats;
    try {
      stats = await stat(file);
    } catch (err) {
      if (isMissing(err)) continue; // removed since it was listed (a sweep, a delete)
      throw err;
    }
    yield { name: entry.name, file, stats };
  }
}

export function createFsBlobStore(root: string): BlobStore {
  const tmpDir = path.join(root, 'tmp');
  const pathOf = (key: string): string => {
    if (!KEY.test(key)) throw new BlobNotFoundError(key);
    return path.join(root, key.slice(0, 2), key.slice(2, 4), key);
  };

  return {
    async put(source: Readable, options: PutOptions): Promise<StoredBlob> {
      await mkdir(tmpDir, { recursive: true });
      const tmp = path.join(tmpDir, `${randomUUID()}.part`);
      const hash = createHash('sha256');
      let bytes = 0;
      let head: Buffer | undefined = Buffer.alloc(0);
      // Held back until inspected: the first INSPECT_BYTES of the file.
      let pending: Buffer[] | undefined = options.inspectHead ? [] : undefined;
      let pendingBytes = 0;
      const inspect = async (push: (b: Buffer) => void) => {
        const first = Buffer.concat(pending!);
        pending = undefined;
        await options.inspectHead!(first);
        push(first);
      };
      const meter = new Transform({
        highWaterMark: 1024 * 1024,
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          if (bytes > options.maxBytes) return done(new BlobTooLargeError(options.maxBytes));
          if (head) {
            head = Buffer.concat([head, chunk]);
            if (head.length >= HEAD_BYTES) {
              try {
                options.checkHead?.(head);
              } catch (err) {
                return done(err as Error);
              }
              head = undefined;
            }
          }
          hash.update(chunk);
          if (!pending) return done(null, chunk);
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes < INSPECT_BYTES) return done();
          inspect((b) => this.push(b)).then(
            () => done(),
            (err: Error) => done(err),
          );
        },
        flush(done) {
          // Short files: check what there is.
          try {
            if (head) options.checkHead?.(head);
          } catch (err) {
            return done(err as Error);
          }
          if (!pending) return done();
          inspect((b) => this.push(b)).then(
            () => done(),
            (err: Error) => done(err),
          );
        },
      });
      // Large write buffers: one write per megabyte, not per 16 KiB chunk.
      const sink = createWriteStream(tmp, { highWaterMark: 1024 * 1024 });
      try {
        await pipeline(source, meter, sink, ...(options.signal ? [{ signal: options.signal }] : []));
        const sha256 = hash.digest('hex');
        const final = pathOf(sha256);
        await mkdir(path.dirname(final), { recursive: true });
        await rename(tmp, final);
        return { key: sha256, sha256, bytes };
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

    // Only files where put would have put them: a stray file elsewhere is no
    // blob, and the sweep must not take it for one.
    async *list() {
      for (const a of await levelDirs(root)) {
        for (const b of await levelDirs(path.join(root, a))) {
          for await (const { name, stats } of filesIn(path.join(root, a, b))) {
            if (KEY.test(name) && name.startsWith(a + b)) yield { key: name, bytes: stats.size, modifiedAt: stats.mtime };
          }
        }
      }
    },

    // An upload in flight writes its temp file at least every
    // UPLOAD_IDLE_TIMEOUT_MS, so one older than that is a crash's leftover.
    async sweepTemporary({ olderThan, dryRun }) {
      let files = 0;
      let bytes = 0;
      for await (const { file, stats } of filesIn(tmpDir)) {
        if (stats.mtime >= olderThan) continue;
        if (!dryRun) await rm(file, { force: true });
        files++;
        bytes += stats.size;
      }
      return { files, bytes };
    },
  };
}
