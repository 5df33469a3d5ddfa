// The bench's summary statistics (src/bench/stats.ts): nearest-rank percentiles.
import { describe, expect, it } from 'vitest';
import { mean, percentile } from '../../src/bench/stats.js';

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]; // unsorted on purpose
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile(xs, 1)).toBe(1);
  });

  it('p95 of 30 samples is the 29th smallest, p50 the 15th', () => {
    const xs = Array.from({ length: 30 }, (_, i) => 30 - i);
    expect(percentile(xs, 95)).toBe(29);
    expect(percentile(xs, 50)).toBe(15);
  });

  it('handles one sample and none, and leaves its input alone', () => {
    expect(percentile([42], 50)).toBe(42);
    expect(percentile([42], 95)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
    const xs = [3, 1, 2];
    percentile(xs, 50);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('mean', () => {
  it('averages, NaN for none', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(mean([])).toBeNaN();
  });
});
