// Splits the files of one upload into requests the server accepts: at most
// maxFiles files and maxRequestBytes bytes each (with room for the multipart
// framing); files over the per-file limit or empty are refused up front.
// Pure: the console uses it on File objects, the tests on plain objects.

import { formatBytes } from '../../src/text/format.js';
import type { InfoLimits } from '../../src/wire/info.js';

export { formatBytes };

export interface Sized {
  name: string;
  size: number;
}

/** The limits of GET /v1/info that an upload's split depends on. */
export type UploadLimits = Pick<InfoLimits, 'maxFiles' | 'maxRequestBytes' | 'maxFileBytes'>;

export function planUploads<F extends Sized>(files: F[], limits: UploadLimits): { requests: F[][]; refused: Array<{ file: F; reason: string }> } {
  const refused: Array<{ file: F; reason: string }> = [];
  const requests: F[][] = [];
  // Multipart headers per file, and the form's own fields.
  const overhead = 512;
  const budget = limits.maxRequestBytes - 4096;
  let current: F[] = [];
  let bytes = 0;
  for (const file of files) {
    if (file.size === 0) {
      refused.push({ file, reason: 'empty file' });
      continue;
    }
    if (file.size > limits.maxFileBytes) {
      refused.push({ file, reason: `larger than the per-file limit of ${formatBytes(limits.maxFileBytes)}` });
      continue;
    }
    if (file.size + overhead > budget) {
      refused.push({ file, reason: `larger than the per-request limit of ${formatBytes(limits.maxRequestBytes)}` });
      continue;
    }
    if (current.length > 0 && (current.length >= limits.maxFiles || bytes + file.size + overhead > budget)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size + overhead;
  }
  if (current.length > 0) requests.push(current);
  return { requests, refused };
}
