// Reads an ONNX file's metadata_props (ModelProto field 14) without a
// protobuf library: walks the top-level fields, skipping the graph by its
// length. YOLO exports keep their class names there ("names").

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const b = bytes[i++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i];
    shift += 7;
  }
}

function readEntry(bytes: Uint8Array): [string, string] {
  let key = '';
  let value = '';
  for (let i = 0; i < bytes.length;) {
    const [tag, afterTag] = readVarint(bytes, i);
    const [length, afterLength] = readVarint(bytes, afterTag);
    const text = Buffer.from(bytes.subarray(afterLength, afterLength + length)).toString('utf8');
    if (tag >> 3 === 1) key = text;
    if (tag >> 3 === 2) value = text;
    i = afterLength + length;
  }
  return [key, value];
}

export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (let i = 0; i < bytes.length;) {
    const [tag, afterTag] = readVarint(bytes, i);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      i = readVarint(bytes, afterTag)[1];
    } else if (wire === 2) {
      const [length, start] = readVarint(bytes, afterTag);
      if (field === 14) {
        const [k, v] = readEntry(bytes.subarray(start, start + length));
        metadata[k] = v;
      }
      i = start + length;
    } else if (wire === 5) {
      i = afterTag + 4;
    } else if (wire === 1) {
      i = afterTag + 8;
    } else {
      throw new Error(`unexpected wire type ${wire} in ONNX model`);
    }
  }
  return metadata;
}

/** Ultralytics' "names": "{0: 'person', 1: 'bicycle', ...}" → ['person', 'bicycle', ...]. */
export function parseClassNames(names: string | undefined): string[] {
  if (!names) return [];
  const labels: string[] = [];
  for (const m of names.matchAll(/(\d+)\s*:\s*(['"])((?:\\.|(?!\2).)*)\2/g)) labels[Number(m[1])] = m[3]!.replace(/\\(.)/g, '$1');
  return labels;
}
