// What a batch found, in words: "2 images with faces · 2 faces", or with
// several labels "3 images with detections · 4 persons, 1 dog". Pure: the
// batch page shows it, tests check it on plain objects.

// Labels whose plural is not the label + s (COCO's, which YOLOv8n answers with).
const IRREGULAR: Record<string, string> = { person: 'people', mouse: 'mice', knife: 'knives', sheep: 'sheep', skis: 'skis', scissors: 'scissors' };

/** A label's plural: "face" → "faces", "person" → "people", "bus" → "buses". */
export function pluralLabel(label: string): string {
  if (IRREGULAR[label]) return IRREGULAR[label];
  if (/(s|x|z|ch|sh)$/.test(label)) return `${label}es`;
  return `${label}s`;
}

/** "1 face", "2 faces". */
export const countOf = (n: number, label: string): string => `${n} ${n === 1 ? label : pluralLabel(label)}`;

/**
 * A batch's findings over its images: how many images had at least one
 * detection and how many detections of each label (most first). Images that
 * are not done count as nothing found. "nothing found" when none has one.
 */
export function foundSummary(images: ReadonlyArray<{ detections: ReadonlyArray<{ label: string }> }>): string {
  const counts = new Map<string, number>();
  let withAny = 0;
  for (const image of images) {
    if (image.detections.length > 0) withAny++;
    for (const d of image.detections) counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
  }
  if (withAny === 0) return 'nothing found';
  const labels = [...counts].sort(([a, m], [b, n]) => n - m || a.localeCompare(b));
  const what = labels.length === 1 ? pluralLabel(labels[0]![0]) : 'detections';
  return `${withAny} ${withAny === 1 ? 'image' : 'images'} with ${what} · ${labels.map(([l, n]) => countOf(n, l)).join(', ')}`;
}
