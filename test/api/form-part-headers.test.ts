// Reading how each multipart part named itself (filename= or filename*=,
// name= or name*=) from the body's bytes, wherever the chunks are cut.
import { describe, expect, it } from 'vitest';
import { boundaryOf, dispositionParams, watchPartNaming, type PartNaming } from '../../src/api/form-part-headers.js';

const B = 'b0undary-x';
const part = (disposition: string, bytes: string) => `--${B}\r\nContent-Disposition: ${disposition}\r\nContent-Type: image/png\r\n\r\n${bytes}\r\n`;
// File bytes that hold the boundary's text without being a delimiter, and what looks like part headers.
const tricky = `\r\n--${B}X not a delimiter\r\nContent-Disposition: form-data; name="images"; filename*=UTF-8''fake\r\n\r\n`;
const BODY = Buffer.from(
  part('form-data; name="minScore"', '0.5') +
    part(`form-data; name="images"; filename*=UTF-8''a%2522.png`, 'PNG1' + tricky) +
    part('form-data; name="images"; filename="b%22.png"', 'PNG2') +
    part(`form-data; name*=UTF-8''images; filename="c.png"`, 'PNG3') +
    part('attachment; filename="ignored.png"', 'x') +
    part(`FORM-DATA; NAME="images"; FILENAME*=utf-8''d.png; filename="d.png"`, 'PNG4') +
    `--${B}--\r\n`,
  'latin1',
);
const FILES: PartNaming[] = [
  { isFile: true, extendedName: false, extendedFilename: true },
  { isFile: true, extendedName: false, extendedFilename: false },
  { isFile: true, extendedName: true, extendedFilename: false },
  { isFile: true, extendedName: false, extendedFilename: true },
];

function read(chunks: Buffer[]): { files: PartNaming[]; fields: PartNaming[] } {
  const watch = watchPartNaming(B);
  for (const c of chunks) watch.write(c);
  const files: PartNaming[] = [];
  const fields: PartNaming[] = [];
  for (let f = watch.nextFile(); f; f = watch.nextFile()) files.push(f);
  for (let f = watch.nextField(); f; f = watch.nextField()) fields.push(f);
  return { files, fields };
}

describe('watchPartNaming', () => {
  it('reads every part of a whole body', () => {
    expect(read([BODY])).toEqual({ files: FILES, fields: [{ isFile: false, extendedName: false, extendedFilename: false }] });
  });

  it('gives the same answer for every cut of the body into two chunks, and byte by byte', () => {
    const whole = read([BODY]);
    for (let cut = 0; cut <= BODY.length; cut++) expect(read([BODY.subarray(0, cut), BODY.subarray(cut)]), `cut at ${cut}`).toEqual(whole);
    expect(read([...BODY].map((b) => Buffer.from([b])))).toEqual(whole);
  });
});

describe('dispositionParams', () => {
  it.each([
    ['form-data; name="images"; filename="a.png"', 'form-data', ['name', 'filename']],
    [`form-data; name="images"; filename*=UTF-8''a.png`, 'form-data', ['name', 'filename*']],
    ['form-data; name="images"; filename="x; filename*=y"', 'form-data', ['name', 'filename']],
    ['form-data; name="images"; filename="q\\";filename*=z"', 'form-data', ['name', 'filename']],
    ['Form-Data;NAME=images;Filename*=x', 'form-data', ['name', 'filename*']],
  ])('%s', (value, type, params) => {
    expect(dispositionParams(value)).toEqual({ type, params: new Set(params) });
  });
});

describe('boundaryOf', () => {
  it.each([
    ['multipart/form-data; boundary=abc', 'abc'],
    ['multipart/form-data; boundary="a b;c"', 'a b;c'],
    ['multipart/form-data;charset=utf-8; BOUNDARY=x-1', 'x-1'],
    ['multipart/form-data', undefined],
    [undefined, undefined],
  ])('%s', (header, boundary) => {
    expect(boundaryOf(header)).toBe(boundary);
  });
});
