// Streams a multipart batch upload into the blob store: every `images` file is
// hashed and written while it arrives (never buffered whole), judged an image
// by its first bytes, and held to the per-file, per-request and file-count
// limits. Other form fields are returned as strings for the route to validate.
// An upload the client abandons (connection closed before the last byte) or
// lets go idle settles as a failure, its temp files removed.

import busboy from 'busboy';
import sharp, { type Metadata } from 'sharp';
import { setMaxListeners } from 'node:events';
import type { Request } from 'express';
import path from 'node:path';
import { BlobTooLargeError, type BlobStore } from '../blobs/blob-store.js';
import { describeUnknownBytes, sniffImageFormat } from '../detection/image-format.js';
import { ApiError, badRequest } from './http-errors.js';
import { boundaryOf, watchPartNaming } from './form-part-headers.js';

export interface UploadLimits {
  maxFileBytes: number;
  /** Width x height above which an image is refused from its header, before anything decodes it. */
  maxPixels: number;
  maxFiles: number;
  maxRequestBytes: number;
  /** An upload that receives no byte for this long is ended with 408 upload_timeout (ms). */
  idleTimeoutMs: number;
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

const MAX_FILENAME_LENGTH = 255;

/**
 * Undoes the only escapes the WHATWG multipart/form-data encoding (browsers,
 * fetch's FormData, curl >= 7.81) applies to names: `"` as %22, CR as %0D and
 * LF as %0A; every other character arrives as raw UTF-8. Nothing else is
 * percent-decoded, so a name sent as "100%25.png" stays "100%25.png". The
 * encoding cannot tell a name that really contains the text "%22" from one
 * that contains a quote: such a name reads as the quote, as in any server
 * that follows the standard.
 */
function decodeFormName(raw: string): string {
  return raw.replace(/%(22|0D|0A)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** At most `max` UTF-16 units, cut between graphemes (never inside an emoji or before a combining accent). */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    if (out.length + segment.length > max) break;
    out += segment;
  }
  return out;
}

/**
 * The name a file is shown and stored under, kept exactly as the client sent
 * it (no Unicode normalisation, no trimming) except: the last part of a path
 * only, control characters removed, at most 255 UTF-16 units. A display name
 * only: never used as a path.
 */
function cleanFilename(raw: string | undefined, position: number, extended: boolean): string {
  // filename*= (RFC 5987) is exact once busboy has decoded it: a backslash in
  // it is part of the name. A plain filename= carries the WHATWG escapes, and
  // old browsers put a whole Windows path in it.
  const name = extended ? (raw ?? '') : decodeFormName(raw ?? '').replace(/\\/g, '/');
  const base = path.basename(name);
  // eslint-disable-next-line no-control-regex
  const clean = truncate(base.replace(/[\u0000-\u001f\u007f]/g, ''), MAX_FILENAME_LENGTH);
  return clean.trim() ? clean : `image-${position + 1}`;
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

/**
 * Receives one multipart upload. Resolves with the stored files (in the
 * order sent) and the other fields once the whole body has arrived and every
 * file is in the blob store. Rejects with an ApiError: 400 (malformed form,
 * unexpected or repeated field (`duplicate_field`), a part busboy would skip
 * (`unnamed_part`), no images, `upload_aborted` when the client closed the
 * connection before the last byte), 408 `upload_timeout` (no byte for
 * `limits.idleTimeoutMs`; the connection is closed after the answer), 413
 * (`too_large`, `too_many_pixels`, `too_many_files`, `too_many_fields`,
 * `too_many_parts`), 415. On any rejection the files still being written are stopped and their
 * temp files removed, and the rejection comes once every write has ended.
 * @param onStored called with the blob key of each file as soon as it is
 *   stored, so that the caller can remove what a refused request stored
 *   (blobs are content-addressed and shared: only the caller knows which
 *   are used elsewhere)
 */
export function receiveUpload(req: Request, blobs: BlobStore, limits: UploadLimits, onStored: (blobKey: string) => void = () => undefined): Promise<Upload> {
  return new Promise<Upload>((resolve, reject) => {
    if (!req.is('multipart/form-data')) {
      return reject(badRequest('expected multipart/form-data with one or more "images" files'));
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxRequestBytes) {
      return reject(new ApiError(413, 'too_large', `request is ${declared} bytes; the limit is ${limits.maxRequestBytes}`));
    }
    const aborted = () => new ApiError(400, 'upload_aborted', 'the client closed the connection before the upload was complete');
    // Gone while auth and the rate limit were checked: nothing to read.
    if (req.destroyed && !req.readableEnded) return reject(aborted());

    let settled = false;
    const stored: Array<Promise<UploadedFile>> = [];
    // Stops the blob writes still in progress (and removes their temp files)
    // when the request fails.
    const abort = new AbortController();
    setMaxListeners(limits.maxFiles + 10, abort.signal); // one listener per file in flight
    const fail = (err: unknown, then: 'drain' | 'close' = 'drain') => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      req.unpipe(parser);
      parser.destroy();
      // Drain the rest so that the client reads the answer; a client that
      // sends nothing more gets the answer and then the connection closed.
      if (then === 'drain') req.resume();
      else req.res?.setHeader('Connection', 'close');
      abort.abort();
      // Settles once every blob write has finished or been aborted: the caller then knows every stored key.
      const error = err instanceof Error ? err : new Error(String(err));
      void Promise.allSettled(stored).then(() => reject(error));
    };

    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // Names are raw UTF-8 (WHATWG multipart/form-data); busboy reads them as latin1 unless told.
        defParamCharset: 'utf8',
        // The name as sent: cleanFilename keeps its last part (busboy would also cut at a backslash in filename*).
        preservePath: true,
        defCharset: 'utf8',
        // Past any of these busboy drops the rest without a word; each is refused below instead.
        // It reports the parts limit once that many parts have ended, so one more than allowed.
        limits: { files: limits.maxFiles, fields: ALLOWED_FIELDS.size, fieldSize: 2048, parts: limits.maxFiles + ALLOWED_FIELDS.size + 1 },
        // Fewer, larger chunks through the hash and the blob write.
        highWaterMark: 1024 * 1024,
        fileHwm: 1024 * 1024,
      });
    } catch (err) {
      return reject(badRequest(`malformed multipart request: ${(err as Error).message}`));
    }

    // An idle upload is ended, but a request paused because the blob store
    // is not keeping up is waiting for us, not idle.
    const idle = setTimeout(function onIdle() {
      if (settled) return;
      if (req.isPaused()) return idle.refresh();
      fail(new ApiError(408, 'upload_timeout', `no bytes received for ${limits.idleTimeoutMs / 1000} s: the upload was ended`), 'close');
    }, limits.idleTimeoutMs);
    req.once('end', () => clearTimeout(idle));
    // The client went away before the last byte: nothing more will come.
    const gone = () => {
      if (!req.readableEnded) fail(aborted());
    };
    req.once('close', gone);
    req.on('error', gone);

    // Before busboy sees a chunk (this listener comes first), its part headers are read here.
    const boundary = boundaryOf(req.headers['content-type']);
    const partNaming = boundary
      ? watchPartNaming(boundary, (why) =>
          fail(badRequest(`a part of the form ${why}: every part must be Content-Disposition: form-data with a name`, 'unnamed_part')),
        )
      : undefined;
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      if (settled) return; // the rest of a refused body, drained
      partNaming?.write(chunk);
      idle.refresh();
      received += chunk.length;
      if (received > limits.maxRequestBytes) {
        fail(new ApiError(413, 'too_large', `request is larger than the limit of ${limits.maxRequestBytes} bytes`));
      }
    });

    const fields: Record<string, string> = {};

    parser.on('file', (rawName, stream, info) => {
      const naming = partNaming?.nextFile();
      const name = naming?.extendedName ? rawName : decodeFormName(rawName ?? '');
      // busboy also errors the file stream of a cut-off form; the parser's own
      // 'error' event reports it, and an unlistened stream error would crash.
      stream.on('error', () => undefined);
      if (settled) return stream.resume();
      if (name !== FILE_FIELD) {
        stream.resume();
        return fail(badRequest(`unexpected file field "${name}": send images as "${FILE_FIELD}"`));
      }
      const position = stored.length;
      const filename = cleanFilename(info.filename, position, naming?.extendedFilename ?? false);
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
        .then((blob) => {
          onStored(blob.key);
          return { filename, sha256: blob.sha256, bytes: blob.bytes, blobKey: blob.key };
        })
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
    parser.on('field', (rawName, value, info) => {
      if (settled) return;
      const name = partNaming?.nextField()?.extendedName ? rawName : decodeFormName(rawName ?? '');
      if (info.valueTruncated) return fail(badRequest(`field "${name}" is too long`));
      if (!ALLOWED_FIELDS.has(name)) return fail(badRequest(`unknown field "${name}"; accepted: images, model, minScore, webhookUrl`));
      if (Object.hasOwn(fields, name)) return fail(badRequest(`field "${name}" is sent twice; send it once`, 'duplicate_field'));
      fields[name] = value;
    });
    parser.on('filesLimit', () => fail(new ApiError(413, 'too_many_files', `more than ${limits.maxFiles} images in one request`)));
    parser.on('fieldsLimit', () =>
      fail(new ApiError(413, 'too_many_fields', `more than ${ALLOWED_FIELDS.size} form fields (${[...ALLOWED_FIELDS].join(', ')}) in one request`)),
    );
    // Unreachable while files, fields and nameless parts are refused on their own; kept so that no limit drops parts silently.
    parser.on('partsLimit', () => fail(new ApiError(413, 'too_many_parts', `more than ${limits.maxFiles + ALLOWED_FIELDS.size} parts in one request`)));
    parser.on('error', (err: Error) => fail(badRequest(`malformed multipart request: ${err.message}`)));
    parser.on('close', () => {
      if (settled) return;
      Promise.all(stored).then(
        (files) => {
          if (files.length === 0) return fail(badRequest(`no images: send one or more "${FILE_FIELD}" files`));
          if (settled) return;
          settled = true;
          clearTimeout(idle);
          resolve({ files, fields });
        },
        (err: unknown) => fail(err),
      );
    });
    req.pipe(parser);
  });
}
