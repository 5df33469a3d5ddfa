// The CSV writer of exports (src/text/csv.ts): RFC 4180 quoting, CRLF
// records, and text a spreadsheet would run as a formula written as text.
import { describe, expect, it } from 'vitest';
import { csvField, csvRecord, guardFormula, toCsv } from '../../src/text/csv.js';
import { parseCsv } from '../helpers/csv.js';

describe('csvField', () => {
  it.each<[string | number | null | undefined, string]>([
    ['plain.png', 'plain.png'],
    ['a,b.png', '"a,b.png"'],
    ['say "cheese".jpg', '"say ""cheese"".jpg"'],
    ['two\nlines.png', '"two\nlines.png"'],
    ['cr\rreturn.png', '"cr\rreturn.png"'],
    ['', ''],
    [null, ''],
    [undefined, ''],
    [0.25, '0.25'],
    [-3.5, '-3.5'],
    [0, '0'],
    [Number.NaN, ''],
    [Number.POSITIVE_INFINITY, ''],
  ])('%j → %j', (cell, written) => {
    expect(csvField(cell)).toBe(written);
  });

  it.each([
    ['=HYPERLINK("http://x.invalid","click")', `"'=HYPERLINK(""http://x.invalid"",""click"")"`],
    ['+1.png', "'+1.png"],
    ['-2.png', "'-2.png"],
    ['@SUM(A1).png', "'@SUM(A1).png"],
    ['\tcmd.png', "'\tcmd.png"],
    ['\rcmd.png', `"'\rcmd.png"`],
  ])('text a spreadsheet would run as a formula, %j, is written as text: %j', (cell, written) => {
    expect(csvField(cell)).toBe(written);
  });

  it('guards only a formula character at the start', () => {
    expect(guardFormula('a=b-c+d@e')).toBe('a=b-c+d@e');
    expect(guardFormula(' =1')).toBe(' =1');
  });
});

describe('toCsv', () => {
  it('writes a header and CRLF-terminated records that read back field for field', () => {
    const header = ['filename', 'score', 'note'];
    const records = [
      ['a,b.png', 0.5, 'ok'],
      ['quote"d\nname.jpg', -1, null],
      ['=cmd', 1, '@x'],
    ];
    const text = toCsv(header, records);
    expect(text).toBe('filename,score,note\r\n"a,b.png",0.5,ok\r\n"quote""d\nname.jpg",-1,\r\n\'=cmd,1,\'@x\r\n');
    expect(parseCsv(text)).toEqual([header, ['a,b.png', '0.5', 'ok'], ['quote"d\nname.jpg', '-1', ''], ["'=cmd", '1', "'@x"]]);
  });

  it('writes one record per call of csvRecord', () => {
    expect(csvRecord(['x', 1, null])).toBe('x,1,\r\n');
  });
});
