// The detection engine's public surface: no queue, no HTTP.

export { createDetector, type Detector, type DetectorOptions, type DetectOptions } from './detector.js';
export { DetectionError, isDetectionError, type DetectionErrorCode } from './errors.js';
export { parseDevice, formatDevice, type Device } from './device.js';
export { ModelRegistry, BUILTIN_MODELS, DEFAULT_MODEL, resolveModelPath } from './model-registry.js';
export type { ModelSpec, InputSpec, DecoderSpec } from './model-spec.js';
export { DEFAULT_IMAGE_LIMITS, preprocessImage, type ImageLimits, type Letterbox } from './preprocess.js';
export { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
export { annotateImage } from './annotate.js';
export { DEFAULT_MAX_DETECTIONS, keepBestDetections } from './keep-best.js';
export { exifOrientation, previewImage } from './preview-image.js';
export type { Detection, DetectionResult, ModelIdentity, Box, Point } from './types.js';
