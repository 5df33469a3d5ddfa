// Is the original, as this browser shows it, in the frame the detections are
// in: the server's, EXIF-oriented? Browsers differ by format (Chromium orients
// JPEG and PNG but not WebP), so the console asks the pictures, not the
// format name:
// - a natural size other than the image's width x height (a quarter turn not
//   applied, a density-scaled JPEG): no;
// - otherwise (a half turn or a mirror not applied, a square image) the
//   original shown is compared, on a small grey grid, with the server's
//   preview under each of the 8 orientations: it is in the right frame when
//   no other orientation matches the preview clearly better.
// Pure functions on pixel arrays (no DOM: tested in Node); the grids come
// from a canvas in components/detection-image.tsx.

/** The 8 ways (EXIF orientations 1..8) to lay a square grid of side n: index in the source for each output cell. */
function orientations(n: number): Array<(x: number, y: number) => number> {
  const last = n - 1;
  return [
    (x, y) => y * n + x,
    (x, y) => y * n + (last - x),
    (x, y) => (last - y) * n + (last - x),
    (x, y) => (last - y) * n + x,
    (x, y) => x * n + y,
    (x, y) => (last - x) * n + y,
    (x, y) => (last - x) * n + (last - y),
    (x, y) => x * n + (last - y),
  ];
}

/**
 * Mean absolute difference (0..255) between `reference` and `shown` laid in
 * each of the 8 orientations, identity first. Both are n x n grey grids, row
 * by row. Throws if their lengths differ from n * n.
 */
export function orientationDistances(shown: ArrayLike<number>, reference: ArrayLike<number>, n: number): number[] {
  if (shown.length !== n * n || reference.length !== n * n) throw new Error(`expected two ${n} x ${n} grids, got ${shown.length} and ${reference.length} cells`);
  return orientations(n).map((at) => {
    let sum = 0;
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) sum += Math.abs(shown[at(x, y)]! - reference[y * n + x]!);
    return sum / (n * n);
  });
}

/**
 * True when `shown` (the original as displayed) is in the frame of
 * `reference` (the server's preview): no other orientation is clearly closer.
 * Ties (symmetric or flat pictures) keep the original.
 */
export function inSameFrame(shown: ArrayLike<number>, reference: ArrayLike<number>, n: number): boolean {
  const [identity, ...others] = orientationDistances(shown, reference, n);
  // Resampling and JPEG noise differ by a few levels; a wrong frame by tens.
  return identity! <= Math.min(...others) * 1.5 + 3;
}

/** Side of the grids compared: coarse enough to ignore scaling noise, fine enough to tell a mirror. */
export const GRID = 16;
