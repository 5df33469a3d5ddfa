// Hand-made images: hostile ones (a PNG whose header claims any size, a
// decompression bomb in a few hundred bytes; polyglots), and photos stored
// turned with an EXIF orientation that turns them back, as cameras write them.
import sharp, { type Sharp } from 'sharp';
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** A valid-looking RGB PNG of width x height whose IDAT holds only `rows` rows of zeros. */
export function pngClaiming(width: number, height: number, rows = 1): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc(Math.min(rows, height) * (1 + width * 3)); // filter byte + pixels per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** How to store an upright picture so that EXIF orientation N shows it upright again. */
const STORE_FOR_ORIENTATION: Record<number, (image: Sharp) => Sharp> = {
  1: (image) => image,
  2: (image) => image.flop(),
  3: (image) => image.rotate(180),
  4: (image) => image.flip(),
  6: (image) => image.rotate(270),
  8: (image) => image.rotate(90),
};

/**
 * `upright` (any image sharp reads) stored turned, with EXIF `orientation`
 * (1, 2, 3, 4, 6 or 8) saying how to turn it back, encoded as `format`.
 * Returns the file and its stored pixels as a PNG without orientation (what a
 * viewer that ignores the tag shows). Throws for orientations 5 and 7.
 */
export async function storedWithOrientation(
  upright: Buffer,
  orientation: number,
  format: 'jpeg' | 'png' | 'webp',
): Promise<{ bytes: Buffer; asStored: Buffer }> {
  const store = STORE_FOR_ORIENTATION[orientation];
  if (!store) throw new Error(`orientation ${orientation} is not supported here`);
  const asStored = await store(sharp(upright)).png().toBuffer();
  const encoder = sharp(asStored).withMetadata({ orientation });
  const bytes = await (format === 'png' ? encoder.png() : encoder.toFormat(format, { quality: 95 })).toBuffer();
  return { bytes, asStored };
}
