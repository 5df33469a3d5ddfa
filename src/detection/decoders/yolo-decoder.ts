// Decodes Ultralytics YOLO v8/v11 exports: one output [4 + classes, anchors]
// per image, rows 0-3 = cx, cy, w, h in input pixels, then one (already
// sigmoided) score per class; no objectness. Indexing is transpose-free
// (row r of anchor a is data[r * anchors + a]) and anchors whose best class
// misses the threshold are dropped before any box is built.

import type { YoloDecoderSpec } from '../model-spec.js';
import type { Letterbox } from '../preprocess.js';
import type { Detection } from '../types.js';
import { boxToOriginal, roundScore } from './geometry.js';
import { nonMaxSuppression, type Candidate } from './nms.js';
import { requireOutput, type ModelOutputs } from './output-tensor.js';

export function createYoloDecoder(spec: YoloDecoderSpec) {
  const labelOf = (classId: number): string => spec.labels[classId] ?? `class_${classId}`;

  return function decode(outputs: ModelOutputs, letterbox: Letterbox, minScore: number): Detection[] {
    const { data, dims } = requireOutput(outputs, spec.output);
    const rows = dims[0];
    const anchors = dims[1];
    if (dims.length !== 2 || rows === undefined || anchors === undefined || rows < 5) {
      throw new Error(`YOLO output "${spec.output}" must be [4 + classes, anchors], got [${dims.join(', ')}]`);
    }
    const classes = rows - 4;
    const candidates: Candidate[] = [];
    for (let a = 0; a < anchors; a++) {
      let best = -Infinity;
      let bestClass = -1;
      for (let c = 0, at = 4 * anchors + a; c < classes; c++, at += anchors) {
        const score = data[at] as number;
        if (score > best) {
          best = score;
          bestClass = c;
        }
      }
      if (best < minScore) continue;
      const cx = data[a] as number;
      const cy = data[anchors + a] as number;
      const w = data[2 * anchors + a] as number;
      const h = data[3 * anchors + a] as number;
      candidates.push({ box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 }, score: best, classId: bestClass });
    }
    return nonMaxSuppression(candidates, spec.nmsIou, true).map((c) => ({
      label: labelOf(c.classId),
      score: roundScore(c.score),
      box: boxToOriginal(letterbox, c.box),
    }));
  };
}
