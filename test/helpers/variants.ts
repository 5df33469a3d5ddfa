// Distinct copies of the real photos: the same pixels and decode work, with a
// unique trailer after the image data (ignored by decoders) so every copy has
// its own sha256 and no cache answers it.
import { ALL_PHOTOS, readPhoto } from './photos.js';

export async function photoVariants(count: number, tag: string): Promise<Array<{ name: string; source: string; bytes: Buffer }>> {
  const originals = await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) })));
  return Array.from({ length: count }, (_, i) => {
    const original = originals[i % originals.length]!;
    const trailer = Buffer.from(`lookout-variant:${tag}:${i}`);
    return { name: `${i}-${original.name}`, source: original.name, bytes: Buffer.concat([original.bytes, trailer]) };
  });
}
