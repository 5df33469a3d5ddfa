// A web preview of a stored image: EXIF-oriented (the frame detections are
// in), scaled to fit a square, as JPEG. The console draws the boxes over it,
// scaled from the image's own width and height.
import sharp from 'sharp';

export async function previewImage(bytes: Buffer, maxSize: number, limits: { maxPixels: number }): Promise<Buffer> {
  return sharp(bytes, { limitInputPixels: limits.maxPixels, pages: 1 })
    .rotate()
    .resize({ width: maxSize, height: maxSize, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 82, mozjpeg: false })
    .toBuffer();
}

/**
 * The EXIF orientation tag of encoded image bytes (1..8, as TIFF/EXIF define
 * it), read from the header without decoding pixels; 1 when there is none or
 * the header cannot be read.
 */
export async function exifOrientation(bytes: Buffer): Promise<number> {
  const meta = await sharp(bytes, { failOn: 'none', limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  const orientation = meta?.orientation;
  return orientation && orientation >= 1 && orientation <= 8 ? orientation : 1;
}
