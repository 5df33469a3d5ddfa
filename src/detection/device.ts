// Device strings ("cpu", "cuda:N") and the onnxruntime execution providers
// they mean. A GPU that is not there fails fast, or, when the caller allows
// it, falls back to CPU with exactly one warning line.

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { DetectionError } from './errors.js';

export type Device = { kind: 'cpu' } | { kind: 'cuda'; deviceId: number };

export function parseDevice(text: string): Device {
  const value = text.trim().toLowerCase();
  if (value === 'cpu') return { kind: 'cpu' };
  const match = /^cuda:(\d{1,2})$/.exec(value);
  if (match?.[1] !== undefined) return { kind: 'cuda', deviceId: Number(match[1]) };
  throw new DetectionError('invalid_device', `invalid device "${text}": expected "cpu" or "cuda:N" (N = GPU index)`);
}

export function formatDevice(device: Device): string {
  return device.kind === 'cpu' ? 'cpu' : `cuda:${device.deviceId}`;
}

export function executionProviders(device: Device): InferenceSession.ExecutionProviderConfig[] {
  if (device.kind === 'cpu') return ['cpu'];
  // onnxruntime-node 1.30 reads only deviceId from the CUDA options (no arena
  // strategy), so GPU memory growth is bounded per process by the memory
  // guard, not here.
  return [{ name: 'cuda', deviceId: device.deviceId }];
}

const requireFromHere = createRequire(import.meta.url);

/**
 * Whether this onnxruntime-node install carries the CUDA provider library.
 * The default (CPU) install lacks it; `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`
 * adds it. Checking the file first gives a clear error instead of
 * onnxruntime's own "Failed to load shared library" noise.
 */
export function cudaProviderInstalled(): boolean {
  let binRoot: string;
  try {
    binRoot = path.join(path.dirname(requireFromHere.resolve('onnxruntime-node')), '..', 'bin');
  } catch {
    return false;
  }
  if (!existsSync(binRoot)) return false;
  const stack = [binRoot];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) stack.push(path.join(dir, entry.name));
      else if (entry.name.startsWith('libonnxruntime_providers_cuda')) return true;
    }
  }
  return false;
}
