// The real test photographs (from Debian's python3-skimage, fetched by
// scripts/fetch-test-photos.sh into a git-ignored folder).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PHOTOS_DIR = process.env.LOOKOUT_PHOTOS_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'photos');

export const FACE_PHOTOS = ['astronaut.png', 'camera.png'] as const;
export const NO_FACE_PHOTOS = ['coffee.png', 'chelsea.png', 'rocket.jpg', 'motorcycle_left.png'] as const;
export const ALL_PHOTOS = [...FACE_PHOTOS, ...NO_FACE_PHOTOS];

/** Faces blazeface-back finds at its default threshold (checked by hand on the photos). */
export const EXPECTED_FACES: Readonly<Record<string, number>> = {
  'astronaut.png': 1,
  'camera.png': 1,
  'coffee.png': 0,
  'chelsea.png': 0,
  'rocket.jpg': 0,
  'motorcycle_left.png': 0,
};

export const photoPath = (name: string): string => path.join(PHOTOS_DIR, name);
export const readPhoto = (name: string): Promise<Buffer> => readFile(photoPath(name));

export function missingPhotos(): string[] {
  return ALL_PHOTOS.filter((name) => !existsSync(photoPath(name)));
}
