// Draws detections over the (EXIF-oriented) image: a box per detection, its
// label and score, and keypoints as dots. Rendered as an SVG overlay that sharp
// composites, so no canvas dependency; output is PNG.

import sharp from 'sharp';
import type { Detection } from './types.js';

const PALETTE = ['#00e676', '#ff9100', '#2979ff', '#ff1744', '#d500f9', '#ffea00'];

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function detectionsSvg(width: number, height: number, detections: readonly Detection[]): string {
  // Line width and font size follow the image size so thumbnails and
  // 20-megapixel photos both stay readable.
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 250));
  const fontSize = Math.max(12, stroke * 7);
  const labels = [...new Set(detections.map((d) => d.label))];
  const shapes = detections.map((d) => {
    const colour = PALETTE[labels.indexOf(d.label) % PALETTE.length] as string;
    const { x1, y1, x2, y2 } = d.box;
    const text = escapeXml(`${d.label} ${d.score.toFixed(2)}`);
    const textY = y1 - stroke * 2 >= fontSize ? y1 - stroke * 2 : y2 + fontSize + stroke;
    const points = (d.keypoints ?? []).map(([x, y]) => `<circle cx="${x}" cy="${y}" r="${stroke * 1.5}" fill="${colour}"/>`).join('');
    return (
      `<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>` +
      `<text x="${x1}" y="${textY}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="${colour}" ` +
      `stroke="black" stroke-width="${stroke / 3}" paint-order="stroke">${text}</text>` +
      points
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
}

/** The image, auto-oriented, with its detections drawn; PNG bytes. */
export async function annotateImage(bytes: Buffer, detections: readonly Detection[], limits: { maxPixels: number }): Promise<Buffer> {
  const oriented = await sharp(bytes, { limitInputPixels: limits.maxPixels, pages: 1 })
    .rotate()
    .toColourspace('srgb')
    .png()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = oriented.info;
  const overlay = Buffer.from(detectionsSvg(width, height, detections));
  return sharp(oriented.data)
    .composite([{ input: overlay, top: 0, left: 0 }])
    .png()
    .toBuffer();
}
