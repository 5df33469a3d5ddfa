// A multipart/form-data request body built by hand so that it streams: each
// file is read from disk only when the request pulls for more (never whole in
// memory), the exact Content-Length is known before the first byte, and every
// byte handed to fetch is counted, which makes the upload progress bar real.

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { MEDIA_TYPES, type ImageFormat } from '../detection/image-format.js';

export interface MultipartFile {
  /** Where to read it. */
  file: string;
  /** The name sent in Content-Disposition. */
  filename: string;
  bytes: number;
  format: ImageFormat;
}

export interface MultipartProgress {
  /** Bytes handed to the request since the last call. */
  onBytes?: (n: number) => void;
  /** A file's last byte was handed over. */
  onFileSent?: () => void;
}

/** The file changed between being judged and being sent: the declared length would lie. */
export class FileChangedError extends Error {
  override readonly name = 'FileChangedError';
}

const FILE_FIELD = 'images';
const CHUNK_BYTES = 1024 * 1024;

export const newBoundary = (): string => `lookout-${randomBytes(16).toString('hex')}`;

/** A quoted-string value: backslash escapes as busboy reads them; no line breaks. */
const quoted = (value: string) => `"${value.replace(/[\r\n]/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** RFC 5987 ext-value, for names a quoted filename cannot carry exactly (busboy prefers filename*). */
const extValue = (value: string) => `UTF-8''${encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;

function fileHeader(boundary: string, file: MultipartFile): Buffer {
  const ascii = /^[\x20-\x7e]*$/.test(file.filename);
  const fallback = ascii ? file.filename : file.filename.replace(/[^\x20-\x7e]/g, '_');
  // A plain quoted name is read with the WHATWG escapes (%22, %0D, %0A) and a
  // backslash as a Windows path separator, so a name with a % or a \ in it
  // goes as filename* too, which the server takes as is.
  const exact = ascii && !/[%\\]/.test(file.filename);
  const disposition = `form-data; name="${FILE_FIELD}"; filename=${quoted(fallback)}${exact ? '' : `; filename*=${extValue(file.filename)}`}`;
  return Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: ${MEDIA_TYPES[file.format]}\r\n\r\n`, 'utf8');
}

function fieldPart(boundary: string, name: string, value: string): Buffer {
  return Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`, 'utf8');
}

const CRLF = Buffer.from('\r\n');
const closing = (boundary: string) => Buffer.from(`--${boundary}--\r\n`);

/** The bytes one file adds to a request: its part header, its content, the CRLF after it. */
export function filePartBytes(boundary: string, file: MultipartFile): number {
  return fileHeader(boundary, file).length + file.bytes + CRLF.length;
}

/** The bytes of a request with no files: the fields and the closing boundary. */
export function baseRequestBytes(boundary: string, fields: Record<string, string>): number {
  return Object.entries(fields).reduce((n, [k, v]) => n + fieldPart(boundary, k, v).length, closing(boundary).length);
}

export interface MultipartBody {
  contentType: string;
  contentLength: number;
  stream: ReadableStream<Uint8Array>;
}

type Segment = Buffer | MultipartFile;

/** One request's body: the fields, then the files in order. A fresh stream per call (retries need one). */
export function multipartBody(boundary: string, fields: Record<string, string>, files: MultipartFile[], progress: MultipartProgress = {}): MultipartBody {
  const segments: Segment[] = Object.entries(fields).map(([k, v]) => fieldPart(boundary, k, v));
  for (const f of files) segments.push(fileHeader(boundary, f), f, CRLF);
  segments.push(closing(boundary));
  const contentLength = segments.reduce((n, s) => n + (Buffer.isBuffer(s) ? s.length : s.bytes), 0);

  let index = 0;
  let reading: AsyncIterator<Buffer> | undefined;
  let fileBytes = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const segment = segments[index];
          if (segment === undefined) return controller.close();
          if (Buffer.isBuffer(segment)) {
            index++;
            progress.onBytes?.(segment.length);
            return controller.enqueue(segment);
          }
          reading ??= (createReadStream(segment.file, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          const next = await reading.next();
          if (next.done) {
            if (fileBytes !== segment.bytes) {
              throw new FileChangedError(`${segment.file} changed while uploading (${segment.bytes} bytes before, ${fileBytes} now)`);
            }
            reading = undefined;
            fileBytes = 0;
            index++;
            progress.onFileSent?.();
            continue;
          }
          fileBytes += next.value.length;
          if (fileBytes > segment.bytes) {
            await reading.return?.();
            throw new FileChangedError(`${segment.file} grew while uploading (${segment.bytes} bytes before)`);
          }
          progress.onBytes?.(next.value.length);
          return controller.enqueue(next.value);
        }
      },
      async cancel() {
        await reading?.return?.();
      },
    },
    // Nothing read ahead: a byte is counted when the request takes it.
    { highWaterMark: 0 },
  );
  return { contentType: `multipart/form-data; boundary=${boundary}`, contentLength, stream };
}
