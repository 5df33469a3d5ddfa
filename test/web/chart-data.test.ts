// How the console readies /v1/stats's series for its charts (one time axis,
// counts per minute, gaps kept as gaps) and says what a batch found, on plain
// values: no browser.
import { describe, expect, it } from 'vitest';
import { alignSeries, formatCount, formatDurationMs, pointsWithData, total } from '../../web/src/chart-data.js';
import { foundSummary, pluralLabel } from '../../web/src/found-summary.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('alignSeries', () => {
  it('puts every bucket of the window on the axis, in seconds, counts missing as 0', () => {
    const [xs, done, failed] = alignSeries(
      [
        [
          [T0 + 2 * MIN, 4],
          [T0 + 3 * MIN, 6],
        ],
        [[T0 + 3 * MIN, 1]],
      ],
      { sinceMs: T0, untilMs: T0 + 5 * MIN, stepMs: MIN, missing: 'zero' },
    );
    expect(xs).toEqual([0, 1, 2, 3, 4, 5].map((k) => (T0 + k * MIN) / 1000));
    expect(done).toEqual([0, 0, 4, 6, 0, 0]);
    expect(failed).toEqual([0, 0, 0, 1, 0, 0]);
  });

  it('keeps gaps as null for measurements, and a point that is null stays null', () => {
    const [, p50] = alignSeries(
      [
        [
          [T0, 120],
          [T0 + MIN, null],
          [T0 + 3 * MIN, 80],
        ],
      ],
      { sinceMs: T0, untilMs: T0 + 3 * MIN, stepMs: MIN, missing: 'gap' },
    );
    expect(p50).toEqual([120, null, null, 80]);
  });

  it('takes the buckets’ phase from the answer and adds its instants outside the grid', () => {
    // The server's buckets start 30 s into each minute; the window does not.
    const since = T0 + 10_000;
    const [xs, v] = alignSeries([[[T0 + 30_000, 2]]], { sinceMs: since, untilMs: since + 2 * MIN, stepMs: MIN, missing: 'zero' });
    expect(xs).toEqual([(T0 + 30_000) / 1000, (T0 + 90_000) / 1000]);
    expect(v).toEqual([2, 0]);
  });

  it('turns counts per bucket into a rate with the factor (5-min buckets → per minute)', () => {
    const [, rate] = alignSeries([[[T0, 30]]], { sinceMs: T0, untilMs: T0, stepMs: 5 * MIN, missing: 'zero', factor: 60 / 300 });
    expect(rate).toEqual([6]);
  });

  it('draws an empty window as its buckets with no data, and an absent series as missing', () => {
    const aligned = alignSeries([[], undefined], { sinceMs: T0, untilMs: T0 + 2 * MIN, stepMs: MIN, missing: 'gap' });
    expect(aligned).toEqual([
      [T0 / 1000, T0 / 1000 + 60, T0 / 1000 + 120],
      [null, null, null],
      [null, null, null],
    ]);
    expect(pointsWithData(aligned)).toBe(0);
  });
});

describe('numbers for people', () => {
  it('counts what a chart has and sums a series', () => {
    expect(
      pointsWithData([
        [1, 2, 3],
        [0, 2, null],
        [null, 0.5, 0],
      ]),
    ).toBe(2);
    expect(
      total([
        [1, 2],
        [2, null],
        [3, 5],
      ]),
    ).toBe(7);
  });

  it('formats durations and counts', () => {
    expect([0, 0.02, 0.84, 850, 12_345, 270_000, 7_560_000, null].map(formatDurationMs)).toEqual([
      '0 ms',
      '<0.1 ms',
      '0.8 ms',
      '850 ms',
      '12 s',
      '4.5 min',
      '2.1 h',
      '—',
    ]);
    expect([0, 0.25, 2.5, 12, 123.4, 12_345, null].map(formatCount)).toEqual(['0', '0.25', '2.5', '12', '123', '12.3k', '—']);
  });
});

describe('foundSummary', () => {
  const img = (...labels: string[]) => ({ detections: labels.map((label) => ({ label })) });
  it('says how many images had something and what', () => {
    expect(foundSummary([img('face'), img('face'), img()])).toBe('2 images with faces · 2 faces');
    expect(foundSummary([img('face', 'face', 'face')])).toBe('1 image with faces · 3 faces');
    expect(foundSummary([img('face')])).toBe('1 image with faces · 1 face');
    expect(foundSummary([img('person', 'dog'), img('person', 'person', 'bus')])).toBe('2 images with detections · 3 people, 1 bus, 1 dog');
    expect(foundSummary([img(), img()])).toBe('nothing found');
    expect(foundSummary([])).toBe('nothing found');
  });
  it('pluralises labels', () => {
    expect(['face', 'person', 'bus', 'sheep', 'wine glass', 'knife'].map(pluralLabel)).toEqual(['faces', 'people', 'buses', 'sheep', 'wine glasses', 'knives']);
  });
});
