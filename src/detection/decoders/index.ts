// One entry point from a decoder spec to a decode function.

import type { DecoderSpec, InputSpec } from '../model-spec.js';
import type { Letterbox } from '../preprocess.js';
import type { Detection } from '../types.js';
import { createBlazeFaceDecoder } from './blazeface-decoder.js';
import type { ModelOutputs } from './output-tensor.js';
import { createYoloDecoder } from './yolo-decoder.js';

export type DecodeFn = (outputs: ModelOutputs, letterbox: Letterbox, minScore: number) => Detection[];

export function createDecoder(spec: DecoderSpec, input: InputSpec): DecodeFn {
  switch (spec.kind) {
    case 'blazeface':
      return createBlazeFaceDecoder(spec, input);
    case 'yolo':
      return createYoloDecoder(spec);
  }
}

export type { ModelOutputs, OutputTensor } from './output-tensor.js';
