// Decodes MediaPipe BlazeFace outputs: per-anchor score logits and regressors
// [cx, cy, w, h, 6 keypoints (x, y)] in input pixels relative to the anchor
// centre. Anchors: for each layer, row-major over y, x, then anchor; centre
// ((x + 0.5) / grid, (y + 0.5) / grid) in units of the input size.

import type { BlazeFaceDecoderSpec, InputSpec } from '../model-spec.js';
import type { Letterbox } from '../preprocess.js';
import type { Box, Detection } from '../types.js';
import { boxToOriginal, pointToOriginal, roundScore } from './geometry.js';
import { nonMaxSuppression, type Candidate } from './nms.js';
import { requireOutput, type ModelOutputs } from './output-tensor.js';

const REGRESSOR_WIDTH = 16;
const KEYPOINTS = 6;
// Logits are clamped before the sigmoid, as MediaPipe does, so extreme
// values cannot overflow exp().
const LOGIT_CLAMP = 100;

export interface Anchor {
  cx: number;
  cy: number;
}

/** Anchor centres in [0, 1] of the input, in the model's output order. */
export function blazeFaceAnchors(spec: BlazeFaceDecoderSpec, input: InputSpec): Anchor[][] {
  return spec.strides.map((stride, layer) => {
    const gridX = Math.ceil(input.width / stride);
    const gridY = Math.ceil(input.height / stride);
    const perCell = spec.anchorsPerCell[layer] ?? 1;
    const anchors: Anchor[] = [];
    for (let y = 0; y < gridY; y++) {
      for (let x = 0; x < gridX; x++) {
        for (let a = 0; a < perCell; a++) anchors.push({ cx: (x + 0.5) / gridX, cy: (y + 0.5) / gridY });
      }
    }
    return anchors;
  });
}

interface FaceCandidate extends Candidate {
  keypoints: Array<[number, number]>;
}

export function sigmoid(logit: number): number {
  const clamped = Math.max(-LOGIT_CLAMP, Math.min(LOGIT_CLAMP, logit));
  return 1 / (1 + Math.exp(-clamped));
}

export function createBlazeFaceDecoder(spec: BlazeFaceDecoderSpec, input: InputSpec) {
  const anchorLayers = blazeFaceAnchors(spec, input);
  // A score threshold as a logit saves a sigmoid per rejected anchor.
  const logitOf = (p: number): number => Math.log(p / (1 - p));

  return function decode(outputs: ModelOutputs, letterbox: Letterbox, minScore: number): Detection[] {
    const minLogit = minScore <= 0 ? -Infinity : minScore >= 1 ? Infinity : logitOf(minScore);
    const candidates: FaceCandidate[] = [];
    anchorLayers.forEach((anchors, layer) => {
      const scores = requireOutput(outputs, spec.scoreOutputs[layer] as string).data;
      const regressors = requireOutput(outputs, spec.regressorOutputs[layer] as string).data;
      if (scores.length !== anchors.length || regressors.length !== anchors.length * REGRESSOR_WIDTH) {
        throw new Error(
          `BlazeFace layer ${layer}: expected ${anchors.length} anchors, got ${scores.length} scores and ${regressors.length / REGRESSOR_WIDTH} regressors`,
        );
      }
      for (let i = 0; i < anchors.length; i++) {
        const logit = scores[i] as number;
        if (!(logit >= minLogit)) continue;
        const anchor = anchors[i] as Anchor;
        const r = i * REGRESSOR_WIDTH;
        const cx = (regressors[r] as number) + anchor.cx * input.width;
        const cy = (regressors[r + 1] as number) + anchor.cy * input.height;
        const w = regressors[r + 2] as number;
        const h = regressors[r + 3] as number;
        const box: Box = { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
        const keypoints: Array<[number, number]> = [];
        for (let k = 0; k < KEYPOINTS; k++) {
          keypoints.push([(regressors[r + 4 + 2 * k] as number) + anchor.cx * input.width, (regressors[r + 5 + 2 * k] as number) + anchor.cy * input.height]);
        }
        candidates.push({ box, score: sigmoid(logit), classId: 0, keypoints });
      }
    });
    return nonMaxSuppression(candidates, spec.nmsIou).map((c) => ({
      label: 'face',
      score: roundScore(c.score),
      box: boxToOriginal(letterbox, c.box),
      keypoints: c.keypoints.map(([x, y]) => pointToOriginal(letterbox, x, y)),
    }));
  };
}
