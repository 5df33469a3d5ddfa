// An onnxruntime session for one model on one device: picks execution
// providers, falls back to CPU only when allowed, tells whether the batch
// dimension is dynamic, and runs a batch of preprocessed inputs, returning
// each item's slice of every output.

import ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { cudaProviderInstalled, executionProviders, formatDevice, type Device } from './device.js';
import { DetectionError } from './errors.js';
import type { ModelOutputs, OutputTensor } from './decoders/index.js';
import type { LoadedModelFile } from './model-file.js';
import type { ModelSpec } from './model-spec.js';

export type EngineLogger = Pick<Logger, 'info' | 'warn'>;

export interface ModelSessionOptions {
  spec: ModelSpec;
  file: LoadedModelFile;
  device: Device;
  /** Run on CPU, with one warning line, when the requested GPU is not usable. */
  allowCpuFallback: boolean;
  /** onnxruntime intra-op threads per run (0 = onnxruntime's default). */
  intraOpThreads: number;
  logger: EngineLogger;
}

export interface ModelSession {
  /** The device the session really runs on (cpu after a fallback). */
  device: Device;
  /** Whether the model accepts more than one image per run. */
  dynamicBatch: boolean;
  run(inputs: Float32Array[]): Promise<ModelOutputs[]>;
  release(): Promise<void>;
}

async function createOrtSession(file: LoadedModelFile, device: Device, intraOpThreads: number) {
  return ort.InferenceSession.create(file.bytes, {
    executionProviders: executionProviders(device),
    graphOptimizationLevel: 'all',
    ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
    // 3 = errors only: onnxruntime otherwise warns about unused initializers.
    logSeverityLevel: 3,
  });
}

async function openOnDevice(options: ModelSessionOptions): Promise<{ session: ort.InferenceSession; device: Device }> {
  const { device, file, intraOpThreads } = options;
  if (device.kind === 'cpu') return { session: await createOrtSession(file, device, intraOpThreads), device };

  let reason: string;
  if (!cudaProviderInstalled()) {
    reason = 'this onnxruntime-node install has no CUDA execution provider (install with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci)';
  } else {
    try {
      return { session: await createOrtSession(file, device, intraOpThreads), device };
    } catch (err) {
      reason = `onnxruntime could not start CUDA on ${formatDevice(device)}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (!options.allowCpuFallback) {
    throw new DetectionError(
      'device_unavailable',
      `device ${formatDevice(device)} is not available: ${reason}. Use --device cpu, or allow CPU fallback with DETECT_ALLOW_CPU_FALLBACK=true`,
    );
  }
  options.logger.warn(
    { requestedDevice: formatDevice(device), device: 'cpu', model: options.spec.name },
    `device ${formatDevice(device)} unavailable, falling back to cpu: ${reason}`,
  );
  const cpu: Device = { kind: 'cpu' };
  return { session: await createOrtSession(file, cpu, intraOpThreads), device: cpu };
}

function itemDims(spec: ModelSpec): number[] {
  const { layout, width, height } = spec.input;
  return layout === 'NHWC' ? [height, width, 3] : [3, height, width];
}

export async function openModelSession(options: ModelSessionOptions): Promise<ModelSession> {
  const { spec } = options;
  const { session, device } = await openOnDevice(options);
  const inputMeta = session.inputMetadata.find((m) => m.name === spec.input.name);
  if (!inputMeta) {
    await session.release();
    throw new DetectionError(
      'model_unavailable',
      `model "${spec.name}" has no input "${spec.input.name}"; inputs: ${session.inputNames.join(', ')}`,
    );
  }
  const batchDim = inputMeta.isTensor ? inputMeta.shape[0] : 1;
  const dynamicBatch = typeof batchDim !== 'number' || batchDim < 0;
  const dims = itemDims(spec);
  const itemSize = dims.reduce((a, b) => a * b, 1);

  async function run(inputs: Float32Array[]): Promise<ModelOutputs[]> {
    const n = inputs.length;
    const data = n === 1 ? (inputs[0] as Float32Array) : new Float32Array(n * itemSize);
    if (n > 1) inputs.forEach((input, i) => data.set(input, i * itemSize));
    const feeds = { [spec.input.name]: new ort.Tensor('float32', data, [n, ...dims]) };
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await session.run(feeds);
    } catch (err) {
      throw new DetectionError('inference_failed', `inference failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    const perItem: Array<Record<string, OutputTensor>> = inputs.map(() => ({}));
    for (const name of session.outputNames) {
      const tensor = results[name] as ort.Tensor;
      const all = tensor.data as Float32Array;
      const size = all.length / n;
      const outDims = tensor.dims.slice(1);
      for (let i = 0; i < n; i++) {
        (perItem[i] as Record<string, OutputTensor>)[name] = { data: all.subarray(i * size, (i + 1) * size), dims: outDims };
      }
    }
    return perItem;
  }

  return { device, dynamicBatch, run, release: () => session.release() };
}
