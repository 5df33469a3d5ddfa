// The checks every blob store applies to bytes on their way in, in one
// Transform: count them against maxBytes, show the first bytes to checkHead,
// hold back the first 64 KiB until inspectHead agrees, hash what passes. Both
// drivers pipe the source through it, so PutOptions mean the same in each.

import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { BlobTooLargeError, type PutOptions } from './blob-store.js';

/** How many first bytes checkHead sees (all of a shorter file). */
export const HEAD_BYTES = 64;
/** How many first bytes inspectHead sees (all of a shorter file) before any of them is passed on. */
export const INSPECT_BYTES = 64 * 1024;

export interface MeteredStream {
  /** Passes the bytes through once checked; errors with BlobTooLargeError or what checkHead/inspectHead threw. */
  transform: Transform;
  /** The sha256 (hex) of every byte passed; call once the transform has ended. */
  sha256(): string;
  /** Bytes seen so far. */
  bytes(): number;
}

/**
 * A Transform applying `options`' maxBytes, checkHead and inspectHead to the
 * bytes through it and hashing them. Nothing is passed on before
 * inspectHead (when given) has resolved, so a refused upload writes nothing.
 * `highWaterMark` (bytes) sizes its buffers: fewer, larger writes downstream.
 */
export function meteredStream(options: Pick<PutOptions, 'maxBytes' | 'checkHead' | 'inspectHead'>, highWaterMark = 1024 * 1024): MeteredStream {
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
  const transform = new Transform({
    highWaterMark,
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
  return { transform, sha256: () => hash.digest('hex'), bytes: () => bytes };
}
