// The console's frame check on plain grids: the original as a browser shows
// it against the server's preview, under the 8 EXIF orientations.
import { describe, expect, it } from 'vitest';
import { inSameFrame, orientationDistances } from '../../web/src/image-frame.js';

const N = 16;

/** An asymmetric picture: a bright block near the top left on a diagonal ramp. */
const picture = Array.from({ length: N * N }, (_, i) => {
  const [x, y] = [i % N, Math.floor(i / N)];
  return x < 5 && y < 3 ? 255 : (x * 7 + y * 3) % 200;
});

/** `grid` under the o-th of the 8 turns and mirrors of a square (1: as it is). */
function turned(grid: number[], o: number): number[] {
  const last = N - 1;
  const at: Record<number, (x: number, y: number) => [number, number]> = {
    1: (x, y) => [x, y],
    2: (x, y) => [last - x, y],
    3: (x, y) => [last - x, last - y],
    4: (x, y) => [x, last - y],
    5: (x, y) => [y, x],
    6: (x, y) => [y, last - x],
    7: (x, y) => [last - y, last - x],
    8: (x, y) => [last - y, x],
  };
  return Array.from({ length: N * N }, (_, i) => {
    const [sx, sy] = at[o]!(i % N, Math.floor(i / N));
    return grid[sy * N + sx]!;
  });
}

describe('inSameFrame', () => {
  it('accepts the picture in its own frame, with a little resampling noise', () => {
    const noisy = picture.map((v, i) => Math.min(255, v + (i % 3)));
    expect(inSameFrame(noisy, picture, N)).toBe(true);
    expect(orientationDistances(picture, picture, N)[0]).toBe(0);
  });

  it('refuses it turned or mirrored in any of the other 7 ways', () => {
    for (let o = 2; o <= 8; o++) expect([o, inSameFrame(turned(picture, o), picture, N)]).toEqual([o, false]);
  });

  it('keeps a picture that looks the same either way (flat, or mirror-symmetric)', () => {
    const flat = Array<number>(N * N).fill(90);
    expect(inSameFrame(flat, flat, N)).toBe(true);
    const symmetric = Array.from({ length: N * N }, (_, i) => Math.abs((i % N) - (N - 1) / 2) * 20);
    expect(inSameFrame(turned(symmetric, 2), symmetric, N)).toBe(true);
  });

  it('refuses grids of the wrong size', () => {
    expect(() => orientationDistances(picture.slice(1), picture, N)).toThrow(/16 x 16/);
  });
});
