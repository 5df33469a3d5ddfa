// A ready-to-use detector for one model on one device: bytes in, detections in
// original pixels out. Preprocessing runs per call (on sharp's thread pool, so
// the next image is prepared while the current batch is inferring); inference
// goes through the micro-batcher.

import { createDecoder } from './decoders/index.js';
import type { Device } from './device.js';
import { loadModelFile } from './model-file.js';
import { parseClassNames, readOnnxMetadata } from './onnx-metadata.js';
import { openModelSession, type EngineLogger, type ModelSession } from './model-session.js';
import type { ModelSpec } from './model-spec.js';
import { MicroBatcher } from './micro-batcher.js';
import { keepBestDetections } from './keep-best.js';
import { preprocessImage, type ImageLimits } from './preprocess.js';
import type { DetectionResult, ModelIdentity } from './types.js';
import type { ModelOutputs } from './decoders/index.js';

export interface DetectorOptions {
  spec: ModelSpec;
  device: Device;
  allowCpuFallback: boolean;
  limits: ImageLimits;
  logger: EngineLogger;
  /** onnxruntime intra-op threads per run; 0 = onnxruntime's default. */
  intraOpThreads?: number;
  /** Largest batch per session.run (models with a fixed batch dimension always use 1). */
  maxBatch?: number;
  /** How long the first waiting image may wait for others to join its batch. */
  maxDelayMs?: number;
  /** session.run calls allowed in flight at once. */
  maxConcurrentRuns?: number;
  /** Inference in a worker thread (default true): keeps the event loop free. */
  inferenceThread?: boolean;
  /** Called after every session.run with its batch size and duration (metrics, tests). */
  onBatch?: (size: number, ms: number) => void;
}

export interface DetectOptions {
  /** Minimum score; the model's default when absent. */
  minScore?: number;
  /** At most this many detections are returned, the best-scoring (keep-best.ts); all when absent. */
  maxDetections?: number;
}

interface RunOutput {
  outputs: ModelOutputs;
  inferenceMs: number;
}

export interface Detector {
  readonly model: ModelIdentity;
  readonly spec: ModelSpec;
  /** The device inference really runs on. */
  readonly device: Device;
  /** The effective largest batch per run. */
  readonly maxBatch: number;
  detect(bytes: Buffer, options?: DetectOptions): Promise<DetectionResult>;
  close(): Promise<void>;
}

/** YOLO specs without labels take the class names from the ONNX metadata. */
function withMetadataLabels(spec: ModelSpec, bytes: Uint8Array): ModelSpec {
  if (spec.decoder.kind !== 'yolo' || spec.decoder.labels.length > 0) return spec;
  const labels = parseClassNames(readOnnxMetadata(bytes).names);
  return { ...spec, decoder: { ...spec.decoder, labels } };
}

export async function createDetector(options: DetectorOptions): Promise<Detector> {
  const { limits } = options;
  const file = await loadModelFile(options.spec);
  const spec = withMetadataLabels(options.spec, file.bytes);
  const session: ModelSession = await openModelSession({
    spec,
    file,
    device: options.device,
    allowCpuFallback: options.allowCpuFallback,
    intraOpThreads: options.intraOpThreads ?? 0,
    logger: options.logger,
    ...(options.inferenceThread === undefined ? {} : { inferenceThread: options.inferenceThread }),
  });
  const decode = createDecoder(spec.decoder, spec.input);
  const maxBatch = session.dynamicBatch ? Math.max(1, options.maxBatch ?? 8) : 1;
  const batcher = new MicroBatcher<Float32Array, RunOutput>(
    async (tensors) => {
      const started = performance.now();
      const outputs = await session.run(tensors);
      const ms = performance.now() - started;
      options.onBatch?.(tensors.length, ms);
      const inferenceMs = ms / tensors.length;
      return outputs.map((o) => ({ outputs: o, inferenceMs }));
    },
    {
      maxBatch,
      // Waiting for company only pays when a run can take more than one image.
      maxDelayMs: maxBatch === 1 ? 0 : (options.maxDelayMs ?? 2),
      maxConcurrentRuns: options.maxConcurrentRuns ?? 1,
    },
  );
  const model: ModelIdentity = { name: spec.name, version: spec.version, sha256: file.sha256 };

  return {
    model,
    spec,
    device: session.device,
    maxBatch,
    async detect(bytes, detectOptions = {}) {
      const minScore = detectOptions.minScore ?? spec.defaultMinScore;
      const t0 = performance.now();
      const image = await preprocessImage(bytes, spec.input, limits);
      const t1 = performance.now();
      const { outputs, inferenceMs } = await batcher.submit(image.tensor);
      const t2 = performance.now();
      const decoded = decode(outputs, image.letterbox, minScore);
      const detections = detectOptions.maxDetections === undefined ? decoded : keepBestDetections(decoded, detectOptions.maxDetections);
      const t3 = performance.now();
      return {
        width: image.letterbox.width,
        height: image.letterbox.height,
        model,
        detections,
        timings: { decodeMs: image.headerMs, preprocessMs: t1 - t0 - image.headerMs, inferenceMs, postprocessMs: t3 - t2 },
      };
    },
    async close() {
      await batcher.close();
      await session.release();
    },
  };
}
