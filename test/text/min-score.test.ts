// The one minScore grammar (src/text/min-score.ts), spelled every way a
// person or a client might: plain decimals pass, blank means the model's
// default, and what Number() or z.coerce would read in other notations
// (hex, exponents, Infinity, signs) is refused.
import { describe, expect, it } from 'vitest';
import { formatMinScore, minScoreSchema, parseMinScore } from '../../src/text/min-score.js';

describe('minScore: decimal notation from 0 to 1', () => {
  it.each<[string | number, number]>([
    ['0', 0],
    ['1', 1],
    ['0.5', 0.5],
    ['0.50', 0.5],
    ['.5', 0.5],
    ['1.', 1],
    ['1.0000', 1],
    ['00.25', 0.25],
    ['0.0001', 0.0001],
    ['0.0000001', 1e-7],
    [' 0.5 ', 0.5],
    ['\t0.75\n', 0.75],
    [0, 0],
    [1, 1],
    [0.3, 0.3],
  ])('%j → %d', (input, expected) => {
    expect(minScoreSchema.parse(input)).toBe(expected);
    expect(parseMinScore(input)).toBe(expected);
  });

  it.each<string | number | null | undefined>([undefined, null, '', ' ', '\t\n', '\u00a0'])('blank %j means the model default (undefined), not 0', (input) => {
    expect(minScoreSchema.parse(input)).toBeUndefined();
    expect(parseMinScore(input)).toBeUndefined();
  });

  it.each<string | number>([
    '0x1', // Number('0x1') === 1
    '0X0',
    '0b1',
    '0o1',
    '1e-1', // an exponent: not decimal notation here
    '1E0',
    '5e-1',
    'Infinity',
    '-Infinity',
    'NaN',
    '+0.5',
    '-0',
    '-0.1',
    '1.5',
    '2',
    '1.0000001',
    '0,5',
    '0_5',
    '0.5.1',
    '.',
    '0.5abc',
    'high',
    '½',
    '\uff10.\uff15', // full-width digits
    '٠.٥', // Arabic-Indic digits
    '0. 5',
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -0.1,
    1.01,
  ])('%j is refused with one message', (input) => {
    const parsed = minScoreSchema.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual([expect.stringMatching(/^minScore must be a decimal number from 0 to 1/)]);
    expect(() => parseMinScore(input)).toThrow(/decimal number from 0 to 1/);
  });

  it.each([true, {}, [], '0'.repeat(3000) + 'x'])('a value of another type (%j) is refused', (input) => {
    expect(minScoreSchema.safeParse(input).success).toBe(false);
  });
});

describe('formatMinScore writes what the grammar accepts back', () => {
  it.each<[number, string]>([
    [0, '0'],
    [1, '1'],
    [0.5, '0.5'],
    [0.0001, '0.0001'],
    [1e-7, '0.0000001'],
    [1.5e-8, '0.000000015'],
  ])('%d → %s', (score, text) => {
    expect(formatMinScore(score)).toBe(text);
    expect(parseMinScore(formatMinScore(score))).toBe(score);
  });
});
