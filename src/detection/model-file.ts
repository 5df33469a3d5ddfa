// Reads a model file and checks its sha256 against the spec before anything
// runs it: a swapped or damaged file must never produce results silently.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DetectionError } from './errors.js';
import type { ModelSpec } from './model-spec.js';
import { resolveModelPath } from './model-registry.js';

export interface LoadedModelFile {
  path: string;
  bytes: Uint8Array;
  sha256: string;
}

export async function loadModelFile(spec: ModelSpec): Promise<LoadedModelFile> {
  const path = resolveModelPath(spec);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const how =
      spec.source.kind === 'fetched'
        ? `: it is not fetched (its license is ${spec.license}); run npx lookout models fetch ${spec.name} --accept-license ${spec.license.toLowerCase()}`
        : '';
    throw new DetectionError('model_unavailable', `model "${spec.name}" file not found at ${path}${how}`, { cause });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== spec.sha256) {
    throw new DetectionError('model_checksum_mismatch', `model "${spec.name}" at ${path} has sha256 ${sha256}, expected ${spec.sha256}`);
  }
  return { path, bytes, sha256 };
}
