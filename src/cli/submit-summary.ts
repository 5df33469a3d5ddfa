// The human summary `lookout submit --wait` prints on stdout: one row per
// image (file, status, objects found, labels with counts), the totals, then
// the failures with their reasons and the files skipped. Fits 80 columns:
// long paths lose their beginning (the file name is what matters), long label
// lists their end.

import { plural } from '../text/format.js';
import type { BatchStatus, ImageStatus } from '../wire/batch-status.js';

export interface SummaryImage {
  file: string;
  /** `missing` when the results do not name the image. */
  status: ImageStatus | 'missing';
  /** Null when the image has no result (failed, or not finished). */
  labels: string[] | null;
  error?: { code: string; message: string | null } | null;
}

export interface SummaryInput {
  images: SummaryImage[];
  skipped: Array<{ file: string; reason: string }>;
  /** PATHs given that do not exist. */
  missing: string[];
  /** Each batch and how it ended. */
  batches?: Array<{ id: string; status: BatchStatus | 'unknown' }>;
  width?: number;
}

/** `face×1` or `dog×1, car×2`: each label with its count, in order of first appearance. */
export function labelCounts(labels: string[]): string {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return [...counts].map(([label, n]) => `${label}×${n}`).join(', ');
}

const fitStart = (text: string, width: number) => (text.length <= width ? text : `…${text.slice(text.length - width + 1)}`);
const fitEnd = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);

const STATUS_WIDTH = 6; // "failed", "queued"
const FOUND_WIDTH = 5;
const MIN_LABELS_WIDTH = 16;
const GAP = '  ';

export function formatSummary(input: SummaryInput): string {
  const width = input.width ?? 80;
  const fixed = STATUS_WIDTH + FOUND_WIDTH + 3 * GAP.length;
  const longest = Math.max(4, ...input.images.map((i) => i.file.length));
  const fileWidth = Math.max(12, Math.min(longest, width - fixed - MIN_LABELS_WIDTH));
  const labelsWidth = Math.max(MIN_LABELS_WIDTH, width - fixed - fileWidth);
  const row = (file: string, status: string, found: string, labels: string) =>
    [fitStart(file, fileWidth).padEnd(fileWidth), status.padEnd(STATUS_WIDTH), found.padStart(FOUND_WIDTH), fitEnd(labels, labelsWidth)].join(GAP).trimEnd();

  const lines = [row('file', 'status', 'found', 'labels')];
  let done = 0;
  let failed = 0;
  let objects = 0;
  for (const image of input.images) {
    if (image.status === 'done') done++;
    if (image.status === 'failed') failed++;
    objects += image.labels?.length ?? 0;
    lines.push(row(image.file, image.status, image.labels ? String(image.labels.length) : '-', image.labels ? labelCounts(image.labels) : ''));
  }
  const others = input.images.length - done - failed;
  lines.push(
    '',
    `${plural(input.images.length, 'image')}: ${done} done, ${failed} failed${others ? `, ${others} unfinished` : ''}; ${plural(objects, 'object')} found` +
      `${input.skipped.length ? `; ${input.skipped.length} skipped` : ''}`,
  );

  for (const b of input.batches ?? []) lines.push(`batch ${b.id}: ${b.status}`);

  const failures = input.images.filter((i) => i.status === 'failed');
  if (failures.length) {
    lines.push('', 'failed:');
    for (const f of failures) lines.push(`  ${f.file}: ${f.error ? `${f.error.code}: ${f.error.message ?? ''}` : 'no reason given'}`);
  }
  if (input.skipped.length) {
    lines.push('', 'skipped:');
    for (const s of input.skipped) lines.push(`  ${s.file}: ${s.reason}`);
  }
  if (input.missing.length) {
    lines.push('', 'not found:');
    for (const m of input.missing) lines.push(`  ${m}`);
  }
  return `${lines.join('\n')}\n`;
}
