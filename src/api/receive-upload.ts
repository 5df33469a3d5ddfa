// Streams a multipart batch upload into the blob store: every `images` file is
// hashed and written while it arrives (never buffered whole), judged an image
// by its first bytes, and held to the per-file, per-request and file-count
// limits. Other form fields are returned as strings for the route to validate.

import busboy from 'busboy';
import sharp, { type Metadata } from 'sharp';
import { setMaxListeners } from 'node:events';
import type { Request } from 'express';
import path from 'node:path';
import { BlobTooLargeError, type BlobStore } from '../blobs/blob-store.js';
import { describeUnknownBytes, sniffImageFormat } from '../detection/image-format.js';
import { ApiError, badRequest } from './http-errors.js';

export interface UploadLimits {
  maxFileBytes: number;
  /** Width x height above which an image is refused from its header, before anything decodes it. */
  maxPixels: number;
  maxFiles: number;
  maxRequestBytes: number;
}

export interface UploadedFile {
  filename: string;
  sha256: string;
  bytes: number;
  blobKey: string;
}

export interface Upload {
  files: UploadedFile[];
  fields: Record<string, string>;
}

const FILE_FIELD = 'images';
const ALLOWED_FIELDS = new Set(['model', 'minScore', 'webhookUrl']);

/** A display name only: never used as a path. */
function cleanFilename(raw: string | undefined, position: number): string {
  const base = path.basename((raw ?? '').replace(/\\/g, '/'));
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255).trim();
  return clean || `image-${position + 1}`;
}

/**
 * Decompression bombs stop here: the dimensions are read from the header in
 * the first bytes (sharp reads headers without decoding pixels). A header
 * that cannot be read this early is left to the worker, which checks the
 * same limit before decoding.
 */
async function refuseOversizedDimensions(head: Buffer, filename: string, maxPixels: number): Promise<void> {
  let meta: Metadata;
  try {
    meta = await sharp(head, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch {
    return;
  }
  if (meta.width && meta.height && meta.width * meta.height > maxPixels) {
    throw new ApiError(413, 'too_many_pixels', `${filename} is ${meta.width}x${meta.height} pixels; the limit is ${maxPixels} pixels`);
  }
}

export function receiveUpload(req: Request, blobs: BlobStore, limits: UploadLimits): Promise<Upload> {
  return new Promise<Upload>((resolve, reject) => {
    if (!req.is('multipart/form-data')) {
      return reject(badRequest('expected multipart/form-data with one or more "images" files'));
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxRequestBytes) {
      return reject(new ApiError(413, 'too_large', `request is ${declared} bytes; the limit is ${limits.maxRequestBytes}`));
    }

    let failed = false;
    // Stops the blob writes still in progress (and removes their temp files)
    // when the request fails.
    const abort = new AbortController();
    setMaxListeners(limits.maxFiles + 10, abort.signal); // one listener per file in flight
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // discard the rest of the body
      abort.abort();
      reject(err instanceof Error ? err : new Error(String(err)));
    };

    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { files: limits.maxFiles, fields: 10, fieldSize: 2048, parts: limits.maxFiles + 10 },
        // Fewer, larger chunks through the hash and the blob write.
        highWaterMark: 1024 * 1024,
        fileHwm: 1024 * 1024,
      });
    } catch (err) {
      return reject(badRequest(`malformed multipart request: ${(err as Error).message}`));
    }

    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.maxRequestBytes) {
        fail(new ApiError(413, 'too_large', `request is larger than the limit of ${limits.maxRequestBytes} bytes`));
      }
    });

    const fields: Record<string, string> = {};
    const stored: Array<Promise<UploadedFile>> = [];

    parser.on('file', (name, stream, info) => {
      // busboy also errors the file stream of a cut-off form; the parser's own
      // 'error' event reports it, and an unlistened stream error would crash.
      stream.on('error', () => undefined);
      if (failed) return stream.resume();
      if (name !== FILE_FIELD) {
        stream.resume();
        return fail(badRequest(`unexpected file field "${name}": send images as "${FILE_FIELD}"`));
      }
      const position = stored.length;
      const filename = cleanFilename(info.filename, position);
      const put = blobs
        .put(stream, {
          maxBytes: limits.maxFileBytes,
          signal: abort.signal,
          checkHead: (head) => {
            if (head.length === 0) throw new ApiError(400, 'empty_input', `${filename} is empty (0 bytes)`);
            if (!sniffImageFormat(head)) {
              throw new ApiError(415, 'unsupported_format', `${filename} is not a supported image (looks like ${describeUnknownBytes(head)})`);
            }
          },
          inspectHead: (head) => refuseOversizedDimensions(head, filename, limits.maxPixels),
        })
        .then((blob) => ({ filename, sha256: blob.sha256, bytes: blob.bytes, blobKey: blob.key }))
        .catch((err: unknown) => {
          const wrapped =
            err instanceof ApiError
              ? err
              : err instanceof BlobTooLargeError
                ? new ApiError(413, 'too_large', `${filename} is larger than the per-file limit of ${limits.maxFileBytes} bytes`)
                : err;
          fail(wrapped);
          throw wrapped;
        });
      put.catch(() => undefined); // settled through fail()
      stored.push(put);
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(badRequest(`field "${name}" is too long`));
      if (!ALLOWED_FIELDS.has(name)) return fail(badRequest(`unknown field "${name}"; accepted: images, model, minScore, webhookUrl`));
      fields[name] = value;
    });
    parser.on('filesLimit', () => fail(new ApiError(413, 'too_many_files', `more than ${limits.maxFiles} images in one request`)));
    parser.on('error', (err: Error) => fail(badRequest(`malformed multipart request: ${err.message}`)));
    parser.on('close', () => {
      if (failed) return;
      Promise.all(stored).then(
        (files) => {
          if (files.length === 0) return fail(badRequest(`no images: send one or more "${FILE_FIELD}" files`));
          resolve({ files, fields });
        },
        (err: unknown) => fail(err),
      );
    });
    req.pipe(parser);
  });
}
