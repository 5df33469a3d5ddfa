// @ts-check
// A worker thread that owns one onnxruntime session. onnxruntime-node's
// session.run() executes synchronously on the calling thread, so running it
// on the main thread would block the event loop (HTTP, sharp callbacks,
// BullMQ lock renewal) for every inference; here it blocks only this thread.
// Plain JS (.mjs) so the same file runs from src/ under tests and from dist/.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

/**
 * @typedef {{ modelBytes: Uint8Array, executionProviders: ort.InferenceSession.ExecutionProviderConfig[], intraOpThreads: number }} ThreadInit
 * @typedef {{ type: 'run', id: number, input: string, data: Float32Array, dims: number[] } | { type: 'release' }} ThreadRequest
 */

/** @type {ThreadInit} */
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- workerData is whatever the parent sent: model-session.ts sends a ThreadInit
const init = workerData;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @type {ort.InferenceSession | undefined} */
let session;
try {
  session = await ort.InferenceSession.create(init.modelBytes, {
    executionProviders: init.executionProviders,
    graphOptimizationLevel: 'all',
    ...(init.intraOpThreads > 0 ? { intraOpNumThreads: init.intraOpThreads } : {}),
    logSeverityLevel: 3,
  });
  port.postMessage({
    type: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape : [1] })),
  });
} catch (err) {
  port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}

/** @param {ThreadRequest} msg */
async function handle(msg) {
  if (msg.type === 'release') {
    await session?.release();
    port.close();
    return;
  }
  try {
    if (!session) throw new Error('no session');
    const results = await session.run({ [msg.input]: new ort.Tensor('float32', msg.data, msg.dims) });
    /** @type {Record<string, { data: Float32Array, dims: readonly number[] }>} */
    const outputs = {};
    for (const name of session.outputNames) {
      const tensor = /** @type {ort.Tensor} */ (results[name]);
      outputs[name] = { data: /** @type {Float32Array} */ (tensor.data), dims: tensor.dims };
    }
    port.postMessage({ type: 'result', id: msg.id, outputs });
  } catch (err) {
    port.postMessage({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
}

port.on('message', (/** @type {ThreadRequest} */ msg) => {
  void handle(msg);
});
