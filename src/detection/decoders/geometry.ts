// Rounding and clamping of result geometry in original image pixels.

import type { Letterbox } from '../preprocess.js';
import { toOriginal } from '../preprocess.js';
import type { Box, Point } from '../types.js';

const round2 = (v: number): number => Math.round(v * 100) / 100;
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** A box in model-input pixels mapped to original pixels, clamped to the image. */
export function boxToOriginal(letterbox: Letterbox, box: Box): Box {
  const [x1, y1] = toOriginal(letterbox, box.x1, box.y1);
  const [x2, y2] = toOriginal(letterbox, box.x2, box.y2);
  return {
    x1: round2(clamp(x1, 0, letterbox.width)),
    y1: round2(clamp(y1, 0, letterbox.height)),
    x2: round2(clamp(x2, 0, letterbox.width)),
    y2: round2(clamp(y2, 0, letterbox.height)),
  };
}

export function pointToOriginal(letterbox: Letterbox, x: number, y: number): Point {
  const [ox, oy] = toOriginal(letterbox, x, y);
  return [round2(ox), round2(oy)];
}

export const roundScore = (score: number): number => Math.round(score * 10_000) / 10_000;
