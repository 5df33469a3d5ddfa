// How many detections one image keeps. A tiny minScore lets a YOLO model
// through with thousands of candidate boxes per image (8,400 anchors at 640),
// each a row in Postgres and a line in every results answer; like
// ultralytics' postprocessing (`max_det=300` in its NMS,
// https://docs.ultralytics.com/modes/predict/#inference-arguments), only
// the best-scoring ones are kept.

import type { Detection } from './types.js';

/** ultralytics' default `max_det`. */
export const DEFAULT_MAX_DETECTIONS = 300;

/**
 * The `max` highest-scoring detections, best first (ties keep their
 * decoder order). Returns the input itself when it is already within `max`
 * and sorted.
 * @param max a positive integer
 */
export function keepBestDetections(detections: readonly Detection[], max: number): Detection[] {
  const sorted = detections.every((d, i) => i === 0 || detections[i - 1]!.score >= d.score);
  const best = sorted ? [...detections] : [...detections].sort((a, b) => b.score - a.score);
  return best.length > max ? best.slice(0, max) : best;
}
