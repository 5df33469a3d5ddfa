// One batch item's slice of a model output.

export interface OutputTensor {
  data: Float32Array;
  /** Dimensions without the batch dimension. */
  dims: readonly number[];
}

export type ModelOutputs = Readonly<Record<string, OutputTensor>>;

export function requireOutput(outputs: ModelOutputs, name: string): OutputTensor {
  const tensor = outputs[name];
  if (!tensor) throw new Error(`model output "${name}" is missing; outputs: ${Object.keys(outputs).join(', ')}`);
  return tensor;
}
