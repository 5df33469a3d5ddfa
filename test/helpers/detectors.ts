// Builds real detectors for tests: built-in models on the CPU, or test ONNX
// graphs written to a temp file and registered under a spec.
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createDetector, DEFAULT_IMAGE_LIMITS, ModelRegistry, type Detector, type DetectorOptions, type ModelSpec } from '../../src/detection/index.js';

const silent = pino({ level: 'silent' });

export function builtinDetector(name: string, overrides: Partial<DetectorOptions> = {}): Promise<Detector> {
  return createDetector({
    spec: new ModelRegistry().get(name),
    device: { kind: 'cpu' },
    allowCpuFallback: false,
    limits: DEFAULT_IMAGE_LIMITS,
    logger: silent,
    ...overrides,
  });
}

/** Writes model bytes to a temp file and returns a spec for them (sha256 filled in). */
export async function testModelSpec(bytes: Uint8Array, spec: Omit<ModelSpec, 'source' | 'sha256'>): Promise<ModelSpec> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-model-'));
  const file = path.join(dir, `${spec.name}.onnx`);
  await writeFile(file, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { ...spec, source: { kind: 'path', path: file }, sha256 };
}
