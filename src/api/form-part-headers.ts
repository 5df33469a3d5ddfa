// Which parameters each part of a multipart/form-data body used for its names,
// read from the body's bytes as they stream past (busboy reports the decoded
// names but not how they were sent). A name sent as RFC 5987 `filename*=`
// (what `lookout submit` sends) is exact once decoded; a plain `filename=`
// carries the WHATWG escapes (%22, %0D, %0A) that must still be undone. Only
// part headers are parsed, never file bytes.

import { parse as parseDisposition } from 'content-disposition';

/** How one part named itself: whether its name and file name came as `name*=` / `filename*=`. */
export interface PartNaming {
  isFile: boolean;
  extendedName: boolean;
  extendedFilename: boolean;
}

/** Longer part headers are not read (busboy refuses them too). */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * The type and parameter names (lower-cased) of a Content-Disposition value,
 * read with the `content-disposition` package (quoted strings skipped whole).
 * A value it cannot parse is read loosely, for the names alone.
 */
export function dispositionParams(value: string): { type: string; params: Set<string> } {
  try {
    const parsed = parseDisposition(value.trim(), { extended: false });
    return { type: parsed.type.toLowerCase(), params: new Set(Object.keys(parsed.parameters).map((k) => k.toLowerCase())) };
  } catch {
    const type = value.split(';', 1)[0]!.trim().toLowerCase();
    const params = new Set([...value.matchAll(/;\s*([^\s=;]+)\s*=/g)].map((m) => m[1]!.toLowerCase()));
    return { type, params };
  }
}

/**
 * Follows a multipart body chunk by chunk and queues, in order, how each
 * form-data part named itself. `nextFile()` / `nextField()` take the next file
 * or field part, in the order busboy reports them.
 * @param boundary the boundary from the request's Content-Type
 * @param onIgnoredPart called with the reason for each part that busboy would
 *   skip without a word (no Content-Disposition, a type other than form-data,
 *   no name), so that the caller can refuse the request instead
 */
export function watchPartNaming(
  boundary: string,
  onIgnoredPart: (why: string) => void = () => undefined,
): { write(chunk: Buffer): void; nextFile(): PartNaming | undefined; nextField(): PartNaming | undefined } {
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const CRLF = Buffer.from('\r\n');
  const HEADERS_END = Buffer.from('\r\n\r\n');
  const files: PartNaming[] = [];
  const fields: PartNaming[] = [];
  // Bytes not yet judged: a short tail between delimiters, or a part's
  // headers. File bytes are searched where they lie (Buffer.indexOf), never
  // turned into strings. The body's first delimiter has no CRLF before it.
  let pending: Buffer = CRLF;
  let inHeaders = false;
  let done = false;

  const takeHeaders = (block: string) => {
    const line = block.split('\r\n').find((l) => /^content-disposition\s*:/i.test(l));
    if (!line) return onIgnoredPart('has no Content-Disposition header');
    const { type, params } = dispositionParams(line.slice(line.indexOf(':') + 1));
    if (type !== 'form-data') return onIgnoredPart(`is Content-Disposition: ${type || '(empty)'}, not form-data`);
    if (!params.has('name') && !params.has('name*')) return onIgnoredPart('has no name');
    const naming: PartNaming = {
      isFile: params.has('filename') || params.has('filename*'),
      extendedName: params.has('name*'),
      extendedFilename: params.has('filename*'),
    };
    (naming.isFile ? files : fields).push(naming);
  };

  return {
    write(chunk) {
      if (done) return;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        if (inHeaders) {
          const end = pending.indexOf(HEADERS_END);
          if (end < 0) {
            if (pending.length > MAX_HEADER_BYTES) done = true;
            return;
          }
          // latin1: one character per byte; only the parameter names are read.
          takeHeaders(pending.subarray(0, end).toString('latin1'));
          pending = pending.subarray(end + HEADERS_END.length);
          inHeaders = false;
          continue;
        }
        const at = pending.indexOf(delimiter);
        if (at < 0) {
          // Keep what could be the start of a delimiter split over two chunks.
          pending = Buffer.from(pending.subarray(Math.max(0, pending.length - (delimiter.length + 2))));
          return;
        }
        const after = pending.subarray(at + delimiter.length);
        if (after.length < 2) {
          pending = pending.subarray(at);
          return;
        }
        if (after[0] === 0x2d && after[1] === 0x2d) {
          done = true; // "--": the closing delimiter
          return;
        }
        // Transport padding (spaces, tabs) may come before the CRLF.
        let eol = 0;
        while (eol < after.length && (after[eol] === 0x20 || after[eol] === 0x09)) eol++;
        if (eol + 1 >= after.length) {
          pending = pending.subarray(at); // the line is not complete yet
          return;
        }
        if (after[eol] !== 0x0d || after[eol + 1] !== 0x0a) {
          pending = pending.subarray(at + 1); // the boundary's text inside other bytes: not a delimiter
          continue;
        }
        pending = after.subarray(eol + CRLF.length);
        inHeaders = true;
      }
    },
    nextFile: () => files.shift(),
    nextField: () => fields.shift(),
  };
}

/** The boundary parameter of a multipart Content-Type header, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match?.[1] ?? match?.[2];
}
