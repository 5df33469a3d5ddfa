/**
 * A tiny, dependency-free ONNX model encoder for tests.
 *
 * It writes the protobuf wire format by hand, covering only the subset of
 * onnx.proto needed to build small graphs whose outputs are known in advance.
 * Field numbers below are those of onnx.proto (ModelProto, GraphProto, ...).
 */

/** A typed node attribute; `ints` values must be integers (int64 on the wire). */
export type OnnxAttribute =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  dataType: 'float' | 'int64';
  values: readonly number[] | Float32Array;
}

export interface OnnxValueInfo {
  name: string;
  elemType: 'float' | 'int64';
  /** A number is a fixed dim_value; a string is a symbolic dim_param such as 'N'. */
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion?: number; // default 7
  opset?: number; // version of the default ('') operator set; default 12
  producer?: string;
  graph: OnnxGraph;
  metadata?: Readonly<Record<string, string>>;
}

/** Shorthands for building attributes: `attr.ints([1])`, `attr.float(0.5)`, ... */
export const attr = {
  int: (value: number): OnnxAttribute => ({ kind: 'int', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ kind: 'ints', value }),
  float: (value: number): OnnxAttribute => ({ kind: 'float', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttribute => ({ kind: 'string', value }),
};

// Wire types used here: 0 = varint, 2 = length-delimited, 5 = fixed32.
const VARINT = 0,
  LEN = 2,
  FIXED32 = 5;

/**
 * Base-128 varint. int64 values go through BigInt so negative numbers are
 * written as their 64-bit two's complement (10 bytes), as protobuf requires;
 * BigInt() also rejects non-integers.
 */
function varint(value: number | bigint): Uint8Array {
  let n = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Uint8Array.from(out);
}

/** Little-endian element bytes, as in TensorProto.raw_data and packed fixed32 fields. */
function littleEndian(values: readonly number[] | Float32Array, type: 'float' | 'int64'): Uint8Array {
  const size = type === 'float' ? 4 : 8;
  const view = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((v, i) => (type === 'float' ? view.setFloat32(i * size, v, true) : view.setBigInt64(i * size, BigInt(v), true)));
  return new Uint8Array(view.buffer);
}

const utf8 = new TextEncoder();

/**
 * A message under construction: a list of byte parts, so nested messages are
 * spliced in without copying and concatenated once by `finish()`.
 */
class Message {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private add(...bytes: Uint8Array[]): this {
    for (const b of bytes) {
      this.parts.push(b);
      this.length += b.length;
    }
    return this;
  }

  /** The field key is (field_number << 3) | wire_type, itself a varint. */
  private key(field: number, wireType: number): this {
    return this.add(varint((field << 3) | wireType));
  }

  int(field: number, value: number): this {
    return this.key(field, VARINT).add(varint(value));
  }

  float(field: number, value: number): this {
    return this.key(field, FIXED32).add(littleEndian([value], 'float'));
  }

  /** Length-delimited: key, byte length as a varint, then the payload. */
  bytes(field: number, payload: Uint8Array): this {
    return this.key(field, LEN).add(varint(payload.length), payload);
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, child: Message): this {
    return this.key(field, LEN).add(varint(child.length), ...child.parts);
  }

  /** Packed repeated varints: one length-delimited field holding all the varints. */
  packedInts(field: number, values: readonly number[]): this {
    return this.message(field, new Message().add(...values.map(varint)));
  }

  /** Packed repeated floats: one length-delimited field of little-endian fixed32s. */
  packedFloats(field: number, values: readonly number[]): this {
    return this.bytes(field, littleEndian(values, 'float'));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

// Enum values from onnx.proto.
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;
const TENSOR_TYPE = { float: 1, int64: 7 } as const;

function encodeAttribute(name: string, a: OnnxAttribute): Message {
  const m = new Message().string(1, name);
  switch (a.kind) {
    case 'float':
      m.float(2, a.value);
      break;
    case 'int':
      m.int(3, a.value);
      break;
    case 'string':
      m.string(4, a.value);
      break;
    case 'floats':
      m.packedFloats(7, a.value);
      break;
    case 'ints':
      m.packedInts(8, a.value);
      break;
  }
  return m.int(20, ATTRIBUTE_TYPE[a.kind]);
}

function encodeNode(node: OnnxNode): Message {
  const m = new Message();
  for (const input of node.inputs) m.string(1, input);
  for (const output of node.outputs) m.string(2, output);
  if (node.name !== undefined) m.string(3, node.name);
  m.string(4, node.opType);
  for (const [name, a] of Object.entries(node.attributes ?? {})) m.message(5, encodeAttribute(name, a));
  return m;
}

function encodeTensor(t: OnnxInitializer): Message {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.values.length) {
    throw new Error(`initializer ${t.name}: dims [${t.dims.join(',')}] need ${count} values, got ${t.values.length}`);
  }
  return new Message().packedInts(1, t.dims).int(2, TENSOR_TYPE[t.dataType]).string(8, t.name).bytes(9, littleEndian(t.values, t.dataType));
}

function encodeValueInfo(v: OnnxValueInfo): Message {
  const shape = new Message();
  for (const d of v.shape) {
    shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().int(1, TENSOR_TYPE[v.elemType]).message(2, shape);
  return new Message().string(1, v.name).message(2, new Message().message(1, tensorType));
}

function encodeGraph(g: OnnxGraph): Message {
  const m = new Message();
  for (const node of g.nodes) m.message(1, encodeNode(node));
  m.string(2, g.name);
  for (const t of g.initializers) m.message(5, encodeTensor(t));
  for (const v of g.inputs) m.message(11, encodeValueInfo(v));
  for (const v of g.outputs) m.message(12, encodeValueInfo(v));
  return m;
}

/** Serialises a model to ONNX (protobuf) bytes, loadable by `InferenceSession.create`. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const m = new Message().int(1, model.irVersion ?? 7);
  if (model.producer !== undefined) m.string(2, model.producer);
  m.message(7, encodeGraph(model.graph));
  m.message(8, new Message().string(1, '').int(2, model.opset ?? 12));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    m.message(14, new Message().string(1, key).string(2, value));
  }
  return m.finish();
}

export interface YoloTestModelOptions {
  inputSize: number;
  numClasses: number;
  numAnchors: number;
  batch: 'dynamic' | 1;
  /** The constant output, laid out [4 + numClasses, numAnchors] row-major. */
  rows: Float32Array;
  /** Flat index (into rows) that also receives mean(images[b]); none if undefined. */
  meanShiftIndex?: number;
  /** Stored as metadata `names` in Ultralytics style: `{0: 'person', 1: 'bicycle'}`. */
  labelsMetadata?: readonly string[];
}

/** Python-repr-like quoting, as Ultralytics writes the `names` dict. */
function pyString(s: string): string {
  if (s.includes("'") && !s.includes('"')) return `"${s.replace(/\\/g, '\\\\')}"`;
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A YOLOv8-shaped model: `images` [N, 3, S, S] -> `output0` [N, 4 + C, A], where
 * output0[b] = rows + mean(images[b]) * onehot(meanShiftIndex).
 * Graph: Flatten -> ReduceMean(axes=[1]) [N,1] -> Unsqueeze(axes=[2]) [N,1,1]
 *        -> Mul(mask [1,K,A]) -> Add(rows [1,K,A]).
 */
export function buildYoloTestModel(opts: YoloTestModelOptions): Uint8Array {
  const { inputSize, numClasses, numAnchors, rows, meanShiftIndex, labelsMetadata } = opts;
  const k = 4 + numClasses;
  if (rows.length !== k * numAnchors) {
    throw new Error(`rows must have ${k} x ${numAnchors} = ${k * numAnchors} values, got ${rows.length}`);
  }
  const mask = new Float32Array(k * numAnchors);
  if (meanShiftIndex !== undefined) {
    if (!Number.isInteger(meanShiftIndex) || meanShiftIndex < 0 || meanShiftIndex >= mask.length) {
      throw new Error(`meanShiftIndex ${meanShiftIndex} out of range [0, ${mask.length})`);
    }
    mask[meanShiftIndex] = 1;
  }
  const n = opts.batch === 'dynamic' ? 'N' : 1;
  const metadata: Record<string, string> = {};
  if (labelsMetadata !== undefined) {
    metadata.names = `{${labelsMetadata.map((l, i) => `${i}: ${pyString(l)}`).join(', ')}}`;
  }
  return encodeModel({
    producer: 'lookout-test',
    metadata,
    graph: {
      name: 'yolo_test',
      nodes: [
        { opType: 'Flatten', inputs: ['images'], outputs: ['flat'], attributes: { axis: attr.int(1) } },
        { opType: 'ReduceMean', inputs: ['flat'], outputs: ['mean'], attributes: { axes: attr.ints([1]), keepdims: attr.int(1) } },
        { opType: 'Unsqueeze', inputs: ['mean'], outputs: ['mean3'], attributes: { axes: attr.ints([2]) } },
        { opType: 'Mul', inputs: ['mean3', 'mask'], outputs: ['shift'] },
        { opType: 'Add', inputs: ['shift', 'rows'], outputs: ['output0'] },
      ],
      initializers: [
        { name: 'mask', dims: [1, k, numAnchors], dataType: 'float', values: mask },
        { name: 'rows', dims: [1, k, numAnchors], dataType: 'float', values: rows },
      ],
      inputs: [{ name: 'images', elemType: 'float', shape: [n, 3, inputSize, inputSize] }],
      outputs: [{ name: 'output0', elemType: 'float', shape: [n, k, numAnchors] }],
    },
  });
}
