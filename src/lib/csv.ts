/**
 * CSV for spreadsheets (RFC 4180): CRLF line ends, a field quoted when it holds a comma, a
 * quote, CR or LF, quotes doubled inside. Cells that a spreadsheet would run as a formula
 * (starting with `=`, `+`, `-`, `@`, tab or CR) are prefixed with `'` (OWASP's advice), so
 * a buyer named `=HYPERLINK(…)` is shown as text in the organizer's Excel, never executed.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export type CsvValue = string | number | null | undefined;

export function csvCell(value: CsvValue): string {
  let text = value === null || value === undefined ? "" : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(cells: readonly CsvValue[]): string {
  return cells.map(csvCell).join(",");
}

/** A whole document: header, rows, each line ended by CRLF. */
export function csvDocument(header: readonly string[], rows: Iterable<readonly CsvValue[]>): string {
  const lines = [csvRow(header)];
  for (const row of rows) lines.push(csvRow(row));
  return `${lines.join("\r\n")}\r\n`;
}
