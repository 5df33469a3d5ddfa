import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { attr, buildYoloTestModel, encodeModel } from './helpers/onnx-graph.js';

const SIZE = 8;
const CLASSES = 2;
const ANCHORS = 5;
const K = 4 + CLASSES;

/** rows[i] = i / 2: exactly representable, distinct per position. */
const rows = Float32Array.from({ length: K * ANCHORS }, (_, i) => i / 2);

function constantImages(values: readonly number[]): ort.Tensor {
  const per = 3 * SIZE * SIZE;
  const data = new Float32Array(values.length * per);
  values.forEach((v, b) => data.fill(v, b * per, (b + 1) * per));
  return new ort.Tensor('float32', data, [values.length, 3, SIZE, SIZE]);
}

function tensorMeta(session: ort.InferenceSession, which: 'input' | 'output') {
  const meta = (which === 'input' ? session.inputMetadata : session.outputMetadata)[0];
  if (!meta?.isTensor) throw new Error(`no tensor ${which} metadata`);
  return meta;
}

/**
 * Minimal protobuf reader, just enough to pull ModelProto.metadata_props (field 14)
 * back out: the node binding exposes no model-metadata API.
 */
function readMetadataProps(bytes: Uint8Array): Record<string, string> {
  const fields = (buf: Uint8Array): [number, Uint8Array | bigint][] => {
    const out: [number, Uint8Array | bigint][] = [];
    let pos = 0;
    const varint = (): bigint => {
      let v = 0n;
      for (let shift = 0n; ; shift += 7n) {
        const b = buf[pos++];
        if (b === undefined) throw new Error('truncated varint');
        v |= BigInt(b & 0x7f) << shift;
        if (b < 0x80) return v;
      }
    };
    while (pos < buf.length) {
      const key = Number(varint());
      const field = key >> 3;
      switch (key & 7) {
        case 0:
          out.push([field, varint()]);
          break;
        case 2: {
          const len = Number(varint());
          out.push([field, buf.subarray(pos, pos + len)]);
          pos += len;
          break;
        }
        case 5:
          pos += 4;
          break;
        default:
          throw new Error(`unexpected wire type ${key & 7}`);
      }
    }
    return out;
  };
  const text = (v: Uint8Array | bigint | undefined): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : '');
  const props: Record<string, string> = {};
  for (const [field, value] of fields(bytes)) {
    if (field !== 14 || !(value instanceof Uint8Array)) continue;
    const entry = new Map(fields(value));
    props[text(entry.get(1))] = text(entry.get(2));
  }
  return props;
}

describe('onnx-graph encoder', () => {
  it('builds a dynamic-batch YOLO-shaped model whose output shifts per batch item', async () => {
    const shiftAt = 7;
    const bytes = buildYoloTestModel({
      inputSize: SIZE,
      numClasses: CLASSES,
      numAnchors: ANCHORS,
      batch: 'dynamic',
      rows,
      meanShiftIndex: shiftAt,
    });
    const session = await ort.InferenceSession.create(bytes);
    try {
      expect(session.inputNames).toEqual(['images']);
      expect(session.outputNames).toEqual(['output0']);
      expect(tensorMeta(session, 'input').shape).toEqual(['N', 3, SIZE, SIZE]);
      expect(tensorMeta(session, 'output').shape).toEqual(['N', K, ANCHORS]);

      const result = await session.run({ images: constantImages([0.25, 0.75]) });
      const out = result.output0;
      expect(out?.dims).toEqual([2, K, ANCHORS]);
      const expected = [0.25, 0.75].flatMap((mean) => Array.from(rows, (r, i) => (i === shiftAt ? r + mean : r)));
      expect(Array.from(out?.data as Float32Array)).toEqual(expected);
    } finally {
      await session.release();
    }
  });

  it('outputs just rows when meanShiftIndex is undefined', async () => {
    const session = await ort.InferenceSession.create(
      buildYoloTestModel({ inputSize: SIZE, numClasses: CLASSES, numAnchors: ANCHORS, batch: 'dynamic', rows }),
    );
    try {
      const out = (await session.run({ images: constantImages([0.5, 0.9, 0.1]) })).output0;
      expect(out?.dims).toEqual([3, K, ANCHORS]);
      expect(Array.from(out?.data as Float32Array)).toEqual([...rows, ...rows, ...rows]);
    } finally {
      await session.release();
    }
  });

  it('builds a fixed-batch model with a static input shape', async () => {
    const session = await ort.InferenceSession.create(
      buildYoloTestModel({ inputSize: SIZE, numClasses: CLASSES, numAnchors: ANCHORS, batch: 1, rows, meanShiftIndex: 0 }),
    );
    try {
      expect(tensorMeta(session, 'input').shape).toEqual([1, 3, SIZE, SIZE]);
      expect(tensorMeta(session, 'output').shape).toEqual([1, K, ANCHORS]);
      const out = (await session.run({ images: constantImages([0.5]) })).output0;
      expect(out?.dims).toEqual([1, K, ANCHORS]);
      expect((out?.data as Float32Array)[0]).toBe(0.5);
      await expect(session.run({ images: constantImages([0.5, 0.5]) })).rejects.toThrow();
    } finally {
      await session.release();
    }
  });

  it('stores labels as Ultralytics-style `names` metadata', async () => {
    const bytes = buildYoloTestModel({
      inputSize: SIZE,
      numClasses: CLASSES,
      numAnchors: ANCHORS,
      batch: 1,
      rows,
      labelsMetadata: ['person', "o'clock"],
    });
    expect(readMetadataProps(bytes)).toEqual({ names: `{0: 'person', 1: "o'clock"}` });
    expect(
      readMetadataProps(
        buildYoloTestModel({
          inputSize: SIZE,
          numClasses: CLASSES,
          numAnchors: ANCHORS,
          batch: 1,
          rows,
        }),
      ),
    ).toEqual({});
    // The metadata must not stop the runtime from loading the model.
    const session = await ort.InferenceSession.create(bytes);
    await session.release();
  });

  it('encodes every attribute kind, negative ints and int64 initializers', async () => {
    const bytes = encodeModel({
      graph: {
        name: 'low_level',
        nodes: [
          { opType: 'LeakyRelu', inputs: ['x'], outputs: ['y'], attributes: { alpha: attr.float(0.5) } },
          { opType: 'Reshape', inputs: ['y', 'shape'], outputs: ['flat'] },
          { opType: 'ReduceMean', inputs: ['y'], outputs: ['mean'], attributes: { axes: attr.ints([-1]), keepdims: attr.int(0) } },
          // 'reflect' differs visibly from the default 'constant' (zero) padding.
          { opType: 'Pad', inputs: ['y', 'pads'], outputs: ['padded'], attributes: { mode: attr.string('reflect') } },
          { opType: 'Constant', inputs: [], outputs: ['cf'], name: 'floats', attributes: { value_floats: attr.floats([1.5, -2]) } },
          { opType: 'Constant', inputs: [], outputs: ['ci'], attributes: { value_ints: attr.ints([-1, 300]) } },
        ],
        initializers: [
          { name: 'shape', dims: [1], dataType: 'int64', values: [-1] },
          { name: 'pads', dims: [4], dataType: 'int64', values: [0, 1, 0, 1] },
        ],
        inputs: [{ name: 'x', elemType: 'float', shape: [2, 3] }],
        outputs: [
          { name: 'flat', elemType: 'float', shape: [6] },
          { name: 'mean', elemType: 'float', shape: [2] },
          { name: 'padded', elemType: 'float', shape: [2, 5] },
          { name: 'cf', elemType: 'float', shape: [2] },
          { name: 'ci', elemType: 'int64', shape: [2] },
        ],
      },
    });
    const session = await ort.InferenceSession.create(bytes);
    try {
      const x = new ort.Tensor('float32', Float32Array.from([-2, 4, -6, 1, 2, 3]), [2, 3]);
      const { flat, mean, padded, cf, ci } = await session.run({ x });
      expect(flat?.dims).toEqual([6]);
      expect(Array.from(flat?.data as Float32Array)).toEqual([-1, 4, -3, 1, 2, 3]);
      expect(Array.from(mean?.data as Float32Array)).toEqual([0, 2]);
      expect(padded?.dims).toEqual([2, 5]);
      expect(Array.from(padded?.data as Float32Array)).toEqual([4, -1, 4, -3, 4, 2, 1, 2, 3, 2]);
      expect(Array.from(cf?.data as Float32Array)).toEqual([1.5, -2]);
      expect(Array.from(ci?.data as BigInt64Array)).toEqual([-1n, 300n]);
    } finally {
      await session.release();
    }
  });

  it('rejects values that do not match their declared sizes', () => {
    expect(() =>
      buildYoloTestModel({
        inputSize: SIZE,
        numClasses: CLASSES,
        numAnchors: ANCHORS,
        batch: 1,
        rows: new Float32Array(3),
      }),
    ).toThrow(/rows must have/);
    expect(() =>
      encodeModel({
        graph: {
          name: 'bad',
          nodes: [],
          inputs: [],
          outputs: [],
          initializers: [{ name: 't', dims: [2, 2], dataType: 'float', values: [1, 2, 3] }],
        },
      }),
    ).toThrow(/need 4 values, got 3/);
  });
});
