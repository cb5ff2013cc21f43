/**
 * RFC 4180 CSV: a strict reader that reports the line and column of every problem, and a writer that quotes
 * exactly the fields that need it.
 *
 * Reader rules (RFC 4180 §2, with the common relaxations pandas and Python's `csv` also accept):
 * - records end with CRLF, LF or a lone CR; the last record may end without one;
 * - a field is either unquoted (no `"` inside) or wholly quoted (`"…"`, a quote inside doubled as `""`, commas and
 *   line breaks allowed); after the closing quote only a comma, a line break or the end of input may follow;
 * - a UTF-8 byte-order mark at the start is dropped; an empty line (one empty unquoted field) is skipped.
 * Lines and columns are 1-based and count UTF-16 code units, as editors do for BMP text.
 */
import { FileFormatError } from '@erase/core';

/** One field as read, with where it starts in the source (the opening quote for a quoted field). */
export interface CsvField {
  readonly value: string;
  readonly line: number;
  readonly column: number;
  readonly quoted: boolean;
}

/** One record: its fields and the line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: readonly CsvField[];
}

const EXPECTED = 'RFC 4180 CSV (comma-separated; fields with commas, quotes or line breaks wholly quoted, quotes doubled)';

/**
 * Parses RFC 4180 CSV text into records with positions.
 *
 * @param text the whole file.
 * @param source the file name used in error messages.
 * @returns every non-empty record in order (the header is record 0).
 * @throws FileFormatError for an unterminated quoted field, a quote inside an unquoted field, or text after a
 *   closing quote — each message names the line and column.
 */
export function parseCsv(text: string, source: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i;
  const fail = (problem: string): never => {
    throw new FileFormatError({ file: source, expected: EXPECTED, problem });
  };

  while (i < text.length) {
    const recordLine = line;
    const fields: CsvField[] = [];
    let endOfRecord = false;
    while (!endOfRecord) {
      const fieldLine = line;
      const fieldColumn = i - lineStart + 1;
      let value = '';
      let quoted = false;
      if (text[i] === '"') {
        quoted = true;
        i++;
        let closed = false;
        while (i < text.length) {
          const ch = text[i] as string;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (ch === '\r' || ch === '\n') {
            value += ch === '\r' && text[i + 1] === '\n' ? '\r\n' : ch;
            i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
            line++;
            lineStart = i;
            continue;
          }
          value += ch;
          i++;
        }
        if (!closed) fail(`line ${fieldLine}, column ${fieldColumn}: the quoted field opened here is never closed`);
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') {
          fail(
            `line ${line}, column ${i - lineStart + 1}: unexpected ${JSON.stringify(next)} after the closing quote ` +
              `of the field that starts at column ${fieldColumn} (a quote inside a quoted field must be doubled)`,
          );
        }
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
          if (text[i] === '"') {
            fail(
              `line ${line}, column ${i - lineStart + 1}: a quote inside an unquoted field ` +
                '(quote the whole field and double the quote: "say ""hi""")',
            );
          }
          i++;
        }
        value = text.slice(start, i);
      }
      fields.push({ value, line: fieldLine, column: fieldColumn, quoted });

      const sep = text[i];
      if (sep === ',') {
        i++;
      } else {
        endOfRecord = true;
        if (sep === '\r') i += text[i + 1] === '\n' ? 2 : 1;
        else if (sep === '\n') i++;
        if (sep !== undefined) {
          line++;
          lineStart = i;
        }
      }
    }
    const only = fields[0];
    const blank = fields.length === 1 && only !== undefined && !only.quoted && only.value === '';
    if (!blank) records.push({ line: recordLine, fields });
  }
  return records;
}

/** True when a value must be quoted in CSV: it holds a comma, a quote, a CR or an LF. */
function needsQuotes(value: string): boolean {
  return /[",\r\n]/.test(value);
}

/** Formats one field: quoted (quotes doubled) only when it holds a comma, a quote or a line break. */
export function formatCsvField(value: string): string {
  return needsQuotes(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * Formats rows as CSV text, each row ended by `lineEnding` (LF by default; pass `'\r\n'` for RFC 4180's CRLF).
 * A row that is one empty string is written as `""` so that readers do not drop it as a blank line.
 */
export function formatCsv(rows: readonly (readonly string[])[], lineEnding: '\n' | '\r\n' = '\n'): string {
  let out = '';
  for (const row of rows) {
    const line = row.length === 1 && row[0] === '' ? '""' : row.map(formatCsvField).join(',');
    out += line + lineEnding;
  }
  return out;
}
