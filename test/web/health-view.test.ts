// How the health page shows probe results: problems first, values for people.
import { describe, expect, it } from 'vitest';
import { formatProbeValue, problemsFirst } from '../../src/text/health-view.js';

describe('formatProbeValue', () => {
  it.each([
    [3990512, 'bytes', '3.8 MiB'],
    [512, 'bytes', '512 B'],
    [1, 'workers', '1 worker'],
    [0, 'workers', '0 workers'],
    [1, 'jobs', '1 job'],
    [1000, 'jobs', '1000 jobs'],
    [1, 'images', '1 image'],
    [0.125, 'ratio', '12.5 %'],
    [0.2, 'ratio', '20 %'],
    [0, 'ratio', '0 %'],
    [68.4, 'percent free', '68.4 % free'],
    [0.53, 'ms', '0.5 ms'],
    [26, 'hours', '26 h'],
    [71, 'celsius', '71 °C'],
    ['noeviction', undefined, 'noeviction'],
    [null, 'hours', '—'],
    [7, undefined, '7'],
    [3, 'widgets', '3 widgets'],
  ] as const)('%j %s → %s', (value, unit, shown) => {
    expect(formatProbeValue(value, unit)).toBe(shown);
  });
});

describe('problemsFirst', () => {
  it('critical, then warn, then ok, each group in its order', () => {
    const rows = ['a:ok', 'b:warn', 'c:critical', 'd:ok', 'e:warn', 'f:critical'].map((s) => ({ name: s.split(':')[0]!, status: s.split(':')[1]! }));
    expect(problemsFirst(rows).map((r) => r.name)).toEqual(['c', 'f', 'b', 'e', 'a', 'd']);
    expect(rows.map((r) => r.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']); // not sorted in place
  });
});
