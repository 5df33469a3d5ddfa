// CSV as RFC 4180 writes it, for exports a person opens in a spreadsheet:
// fields separated by commas, records by CRLF; a field holding a comma, a
// double quote, CR or LF is quoted, its quotes doubled. Text a spreadsheet
// would run as a formula (it starts with =, +, -, @, a tab or a carriage
// return: OWASP's "CSV injection") gets a leading apostrophe, which every
// spreadsheet shows as text. Numbers are written as numbers (a negative
// coordinate stays -3.5), so only text cells are guarded.

/** One cell: text (guarded), a number (as JavaScript writes it; not finite: empty) or nothing (empty). */
export type CsvCell = string | number | null | undefined;

/** The characters that make a spreadsheet read a cell as a formula when they come first. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A field holding one of these is quoted. */
const NEEDS_QUOTES = /[",\r\n]/;

/** Text with a leading apostrophe when a spreadsheet would otherwise take it as a formula. */
export function guardFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** One field as written: guarded (text), quoted where needed. */
export function csvField(cell: CsvCell): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'number') return Number.isFinite(cell) ? String(cell) : '';
  const text = guardFormula(cell);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record, CRLF-terminated. */
export function csvRecord(cells: readonly CsvCell[]): string {
  return `${cells.map(csvField).join(',')}\r\n`;
}

/** A header and its records as one CSV text. */
export function toCsv(header: readonly string[], records: Iterable<readonly CsvCell[]>): string {
  let text = csvRecord(header);
  for (const record of records) text += csvRecord(record);
  return text;
}
