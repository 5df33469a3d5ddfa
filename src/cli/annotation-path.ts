// Where `lookout detect --annotate` and `lookout submit --annotate` write an
// image's annotated PNG: DIR/<basename>.png, -2, -3... when basenames repeat.
import path from 'node:path';

export function annotationPathFor(dir: string, file: string, taken: Set<string>): string {
  const stem = path.basename(file, path.extname(file)) || 'image';
  let name = `${stem}.png`;
  for (let n = 2; taken.has(name); n++) name = `${stem}-${n}.png`;
  taken.add(name);
  return path.join(dir, name);
}
