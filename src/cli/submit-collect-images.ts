// Turns the PATHs given to `lookout submit` into the list of images to upload:
// folders are walked recursively in a fixed (byte-wise sorted) order, each
// file is judged an image by its first bytes with the same check the server
// makes, and anything the server would refuse is skipped here, with a reason,
// before a byte is sent.

import { open, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { describeUnknownBytes, sniffImageFormat, type ImageFormat } from '../detection/image-format.js';
import { formatBytes } from '../text/format.js';

export interface FoundImage {
  /** The path as the user would type it: the PATH given, or PATH/relative/name inside a folder. */
  file: string;
  /** What the server is told the file is called (it keeps only the basename). */
  filename: string;
  bytes: number;
  format: ImageFormat;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface CollectedImages {
  images: FoundImage[];
  skipped: SkippedFile[];
  /** PATHs given that do not exist. */
  missing: string[];
  /** Dot-files and dot-folders met inside folders (not uploaded, not walked). */
  hidden: string[];
}

/** Enough for describeUnknownBytes; every signature sniffImageFormat knows is in the first 12. */
const HEAD_BYTES = 512;

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

export async function collectImages(paths: string[], limits: { maxFileBytes: number }): Promise<CollectedImages> {
  const found: CollectedImages = { images: [], skipped: [], missing: [], hidden: [] };
  // The same file reached twice (named and inside a named folder, or through
  // a link) is uploaded once; a folder linked into itself is walked once.
  const seenFiles = new Set<string>();
  const seenDirs = new Set<string>();

  async function judgeFile(file: string, info: Stats): Promise<void> {
    const real = await realpath(file);
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    if (info.size === 0) return void found.skipped.push({ file, reason: 'empty file (0 bytes)' });
    let head: Buffer;
    try {
      head = await readHead(file);
    } catch (err) {
      return void found.skipped.push({ file, reason: `cannot read it (${errno(err) ?? String(err)})` });
    }
    const format = sniffImageFormat(head);
    if (!format) return void found.skipped.push({ file, reason: `not an image (looks like ${describeUnknownBytes(head)})` });
    if (info.size > limits.maxFileBytes) {
      return void found.skipped.push({
        file,
        reason: `${formatBytes(info.size)} is over the server's per-file limit of ${formatBytes(limits.maxFileBytes)}`,
      });
    }
    found.images.push({ file, filename: path.basename(file), bytes: info.size, format });
  }

  async function walk(dir: string): Promise<void> {
    const real = await realpath(dir);
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let names: string[];
    try {
      names = (await readdir(dir)).sort(byteOrder);
    } catch (err) {
      return void found.skipped.push({ file: dir, reason: `cannot list the folder (${errno(err) ?? String(err)})` });
    }
    for (const name of names) {
      const entry = path.join(dir, name);
      if (name.startsWith('.')) {
        found.hidden.push(entry);
        continue;
      }
      await visit(entry, false);
    }
  }

  async function visit(entry: string, given: boolean): Promise<void> {
    let info: Stats;
    try {
      info = await stat(entry); // follows links: a linked image is an image
    } catch (err) {
      if (given && errno(err) === 'ENOENT') return void found.missing.push(entry);
      const reason = errno(err) === 'ENOENT' ? 'broken link' : `cannot read it (${errno(err) ?? String(err)})`;
      return void found.skipped.push({ file: entry, reason });
    }
    if (info.isDirectory()) return walk(entry);
    if (!info.isFile()) return void found.skipped.push({ file: entry, reason: 'not a regular file' });
    return judgeFile(entry, info);
  }

  for (const p of paths) await visit(p, true);
  return found;
}
