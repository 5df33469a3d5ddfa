// The result shapes the engine returns; the CLI, the API and the database all
// speak these, so they stay plain JSON-serialisable data.

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export type Point = [x: number, y: number];

export interface Detection {
  label: string;
  score: number;
  /** In original, EXIF-oriented image pixels. */
  box: Box;
  /** Model landmarks (BlazeFace: eyes, nose, mouth, ears); absent for models without any. */
  keypoints?: Point[];
}

export interface ModelIdentity {
  name: string;
  version: string;
  sha256: string;
}

export interface StageTimings {
  /** Format check and header decode (dimensions, orientation, limits). */
  decodeMs: number;
  /** sharp: pixel decode, EXIF orientation, letterbox; float tensor. */
  preprocessMs: number;
  /** Share of one session.run (a batched run is split evenly over its inputs). */
  inferenceMs: number;
  /** Output decoding, NMS and mapping back to original pixels. */
  postprocessMs: number;
}

export interface DetectionResult {
  /** Width and height after EXIF orientation. */
  width: number;
  height: number;
  model: ModelIdentity;
  detections: Detection[];
  timings: StageTimings;
}
