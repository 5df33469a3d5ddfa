// Filesystem blob store: <dir>/<ab>/<cd>/<sha256>. Bytes stream to a temp
// file while being hashed and counted, then are renamed into place (atomic on
// one filesystem), so a reader never sees half a blob and a crash leaves only
// a temp file behind.

import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, BlobTooLargeError, type BlobStore, type PutOptions, type StoredBlob } from './blob-store.js';

const HEAD_BYTES = 64;
const INSPECT_BYTES = 64 * 1024;

export function createFsBlobStore(root: string): BlobStore {
  const tmpDir = path.join(root, 'tmp');
  const pathOf = (key: string): string => {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new BlobNotFoundError(key);
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
  };
}
