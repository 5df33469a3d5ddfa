// An onnxruntime session for one model on one device: picks execution
// providers, falls back to CPU only when allowed, tells whether the batch
// dimension is dynamic, and runs a batch of preprocessed inputs, returning
// each item's slice of every output. By default the session lives in a
// worker thread (inference-thread.mjs): onnxruntime-node runs inference
// synchronously on the calling thread, which must not be the event loop.

import { Worker } from 'node:worker_threads';
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
  /** Run inference in a worker thread (default) or on the calling thread. */
  inferenceThread?: boolean;
}

type RawOutputs = Record<string, { data: Float32Array; dims: readonly number[] }>;

/** The part of a session the engine uses, wherever it runs. */
interface Runner {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputShape(name: string): ReadonlyArray<number | string> | undefined;
  run(input: string, data: Float32Array, dims: number[]): Promise<RawOutputs>;
  release(): Promise<void>;
}

export interface ModelSession {
  /** The device the session really runs on (cpu after a fallback). */
  device: Device;
  /** Whether the model accepts more than one image per run. */
  dynamicBatch: boolean;
  run(inputs: Float32Array[]): Promise<ModelOutputs[]>;
  release(): Promise<void>;
}

function sessionOptions(device: Device, intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: executionProviders(device),
    graphOptimizationLevel: 'all',
    ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
    // 3 = errors only: onnxruntime otherwise warns about unused initializers.
    logSeverityLevel: 3,
  };
}

async function inProcessRunner(file: LoadedModelFile, device: Device, intraOpThreads: number): Promise<Runner> {
  const session = await ort.InferenceSession.create(file.bytes, sessionOptions(device, intraOpThreads));
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputShape: (name) => {
      const meta = session.inputMetadata.find((m) => m.name === name);
      return meta ? (meta.isTensor ? meta.shape : [1]) : undefined;
    },
    async run(input, data, dims) {
      const results = await session.run({ [input]: new ort.Tensor('float32', data, dims) });
      return Object.fromEntries(
        session.outputNames.map((n) => {
          const t = results[n] as ort.Tensor;
          return [n, { data: t.data as Float32Array, dims: t.dims }];
        }),
      );
    },
    release: () => session.release(),
  };
}

type ThreadMessage =
  | { type: 'ready'; inputNames: string[]; outputNames: string[]; inputMetadata: Array<{ name: string; shape: Array<number | string> }> }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; outputs: RawOutputs }
  | { type: 'error'; id: number; message: string };

async function threadRunner(file: LoadedModelFile, device: Device, intraOpThreads: number): Promise<Runner> {
  const worker = new Worker(new URL('./inference-thread.mjs', import.meta.url), {
    workerData: { modelBytes: file.bytes, executionProviders: sessionOptions(device, intraOpThreads).executionProviders, intraOpThreads },
  });
  const pending = new Map<number, { resolve: (o: RawOutputs) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const ready = await new Promise<Extract<ThreadMessage, { type: 'ready' }>>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (msg: ThreadMessage) => {
      if (msg.type === 'ready') resolve(msg);
      else reject(new Error(msg.type === 'failed' ? msg.message : `unexpected ${msg.type} from inference thread`));
    });
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (msg: ThreadMessage) => {
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const waiter = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.type === 'result') waiter?.resolve(msg.outputs);
    else waiter?.reject(new Error(msg.message));
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`inference thread exited (${code})`)));
  return {
    inputNames: ready.inputNames,
    outputNames: ready.outputNames,
    inputShape: (name) => ready.inputMetadata.find((m) => m.name === name)?.shape,
    run(input, data, dims) {
      return new Promise<RawOutputs>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        // Transferred, not copied: the caller is done with the tensor.
        worker.postMessage({ type: 'run', id, input, data, dims }, [data.buffer as ArrayBuffer]);
      });
    },
    async release() {
      worker.postMessage({ type: 'release' });
      await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    },
  };
}

async function openOnDevice(options: ModelSessionOptions): Promise<{ runner: Runner; device: Device }> {
  const { device, file, intraOpThreads } = options;
  const open = (d: Device) => (options.inferenceThread === false ? inProcessRunner : threadRunner)(file, d, intraOpThreads);
  if (device.kind === 'cpu') return { runner: await open(device), device };

  let reason: string;
  if (!cudaProviderInstalled()) {
    reason = 'this onnxruntime-node install has no CUDA execution provider (install with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci)';
  } else {
    try {
      return { runner: await open(device), device };
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
  return { runner: await open(cpu), device: cpu };
}

function itemDims(spec: ModelSpec): number[] {
  const { layout, width, height } = spec.input;
  return layout === 'NHWC' ? [height, width, 3] : [3, height, width];
}

export async function openModelSession(options: ModelSessionOptions): Promise<ModelSession> {
  const { spec } = options;
  const { runner, device } = await openOnDevice(options);
  const inputShape = runner.inputShape(spec.input.name);
  if (!inputShape) {
    await runner.release();
    throw new DetectionError('model_unavailable', `model "${spec.name}" has no input "${spec.input.name}"; inputs: ${runner.inputNames.join(', ')}`);
  }
  const batchDim = inputShape[0];
  const dynamicBatch = typeof batchDim !== 'number' || batchDim < 0;
  const dims = itemDims(spec);
  const itemSize = dims.reduce((a, b) => a * b, 1);

  async function run(inputs: Float32Array[]): Promise<ModelOutputs[]> {
    const n = inputs.length;
    const data = n === 1 ? (inputs[0] as Float32Array) : new Float32Array(n * itemSize);
    if (n > 1) inputs.forEach((input, i) => data.set(input, i * itemSize));
    let results: RawOutputs;
    try {
      results = await runner.run(spec.input.name, data, [n, ...dims]);
    } catch (err) {
      throw new DetectionError('inference_failed', `inference failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    const perItem: Array<Record<string, OutputTensor>> = inputs.map(() => ({}));
    for (const name of runner.outputNames) {
      const tensor = results[name];
      if (!tensor) throw new DetectionError('inference_failed', `model output "${name}" missing from the run`);
      const size = tensor.data.length / n;
      const outDims = tensor.dims.slice(1);
      for (let i = 0; i < n; i++) {
        (perItem[i] as Record<string, OutputTensor>)[name] = { data: tensor.data.subarray(i * size, (i + 1) * size), dims: outDims };
      }
    }
    return perItem;
  }

  return { device, dynamicBatch, run, release: () => runner.release() };
}
