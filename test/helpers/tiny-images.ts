// Distinct tiny PNGs for scheduling tests: every image has its own bytes (so
// no detection is answered from the cache) and is cheap to run.
import sharp from 'sharp';

let made = 0;

/** `n` distinct 8×8 PNGs (a colour no earlier call of this process made), named `<prefix>-<k>.png`. */
export async function tinyImages(n: number, prefix = 'img'): Promise<Array<{ name: string; bytes: Buffer }>> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (let i = 0; i < n; i++) {
    const c = made++;
    const bytes = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: c & 255, g: (c >> 8) & 255, b: 77 } } })
      .png()
      .toBuffer();
    out.push({ name: `${prefix}-${c}.png`, bytes });
  }
  return out;
}
