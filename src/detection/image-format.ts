// Image formats by their first bytes (image-signature.ts, shared with the
// web console) and what to call bytes that are not one.
import { ascii, startsWith } from './image-signature.js';

export { ACCEPTED_FORMATS, MEDIA_TYPES, sniffImageFormat, type ImageFormat } from './image-signature.js';

/** A short human description of what unaccepted bytes look like, for error messages. */
export function describeUnknownBytes(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 512)).toString('utf8').trimStart().toLowerCase();
  if (head.startsWith('<?xml') || head.startsWith('<svg') || head.includes('<svg')) return 'SVG/XML (vector images are refused)';
  if (head.startsWith('%pdf')) return 'PDF';
  if (startsWith(bytes, ascii('ftyp'), 4)) return 'HEIF/AVIF/MP4 container (not accepted)';
  const printable = bytes.subarray(0, 64).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  return printable ? 'plain text' : 'unknown binary data';
}
