// Greedy non-maximum suppression over candidate boxes.

import type { Box } from '../types.js';

export interface Candidate {
  box: Box;
  score: number;
  classId: number;
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Keeps the best-scoring candidates, dropping any that overlaps a kept one by
 * more than `iouThreshold`. With `classAware`, only boxes of the same class
 * suppress each other. Returns the kept candidates, best first.
 */
export function nonMaxSuppression<T extends Candidate>(candidates: T[], iouThreshold: number, classAware = false): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    const suppressed = kept.some((k) => (!classAware || k.classId === candidate.classId) && iou(k.box, candidate.box) > iouThreshold);
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
