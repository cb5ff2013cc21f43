/**
 * The prompts CSV of the evaluation harness: header `case_number,prompt,evaluation_seed,class` (the column layout
 * of the ESD/UCE/MACE evaluation CSVs, with `class` the label the classifier should find), one row per case.
 *
 * Columns may come in any order; further columns are kept verbatim in `extra` (e.g. `concept`, the word filled
 * into the template, which tells a synonym prompt from a class prompt — see `promptRole`).
 */
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { formatCsv, parseCsv } from './csv';
import type { CsvField } from './csv';

/** The four required columns, in the order they are written. */
export const PROMPT_CSV_COLUMNS = ['case_number', 'prompt', 'evaluation_seed', 'class'] as const;

/** One case of the prompts CSV. */
export interface PromptRow {
  /** `case_number`: a non-negative integer, unique in the file. */
  readonly caseNumber: number;
  /** `prompt`: the text given to the model (any text, commas and quotes included). */
  readonly prompt: string;
  /** `evaluation_seed`: a non-negative safe integer seeding the case's initial noise. */
  readonly evaluationSeed: number;
  /** `class`: the class name the classifier is expected to find (non-empty). */
  readonly className: string;
  /** Further columns by header name, kept as text. */
  readonly extra?: Readonly<Record<string, string>>;
}

const INTEGER = /^\d+$/;

/**
 * Parses a prompts CSV.
 *
 * @param text the file's text.
 * @param source the file name used in error messages (default `"prompts CSV"`).
 * @returns the rows in file order.
 * @throws FileFormatError naming the line and column for: CSV syntax errors, a missing or duplicated header
 *   column, a row with the wrong number of fields, a `case_number`/`evaluation_seed` that is not a non-negative
 *   safe integer, an empty `class`, a duplicated `case_number` (both lines named), or a file without rows.
 */
export function parsePromptsCsv(text: string, source = 'prompts CSV'): PromptRow[] {
  const records = parseCsv(text, source);
  const fail = (problem: string): never => {
    throw new FileFormatError({ file: source, expected: `a header ${PROMPT_CSV_COLUMNS.join(',')} and one row per case`, problem });
  };
  const header = records[0];
  if (header === undefined) return fail('the file is empty');
  const names = header.fields.map((f) => f.value);
  const seen = new Map<string, CsvField>();
  for (const field of header.fields) {
    const earlier = seen.get(field.value);
    if (earlier) {
      fail(`line ${field.line}, column ${field.column}: header column ${JSON.stringify(field.value)} repeats column ${earlier.column}`);
    }
    seen.set(field.value, field);
  }
  const missing = PROMPT_CSV_COLUMNS.filter((c) => !seen.has(c));
  if (missing.length > 0) {
    fail(`line ${header.line}: the header lacks ${missing.join(', ')} (found ${names.map((n) => JSON.stringify(n)).join(',')})`);
  }
  const index = (name: string): number => names.indexOf(name);
  const [caseAt, promptAt, seedAt, classAt] = PROMPT_CSV_COLUMNS.map(index) as [number, number, number, number];
  const extraNames = names.filter((n) => !(PROMPT_CSV_COLUMNS as readonly string[]).includes(n));

  const rows: PromptRow[] = [];
  const caseLines = new Map<number, number>();
  for (const record of records.slice(1)) {
    if (record.fields.length !== names.length) {
      fail(`line ${record.line}: ${record.fields.length} fields, but the header has ${names.length}`);
    }
    const field = (at: number): CsvField => record.fields[at] as CsvField;
    const integer = (at: number): number => {
      const f = field(at);
      const value = INTEGER.test(f.value) ? Number(f.value) : Number.NaN;
      if (!Number.isSafeInteger(value)) {
        fail(`line ${f.line}, column ${f.column} (${names[at]}): ${JSON.stringify(f.value)} is not a non-negative safe integer`);
      }
      return value;
    };
    const caseNumber = integer(caseAt);
    const evaluationSeed = integer(seedAt);
    const classField = field(classAt);
    if (classField.value === '') fail(`line ${classField.line}, column ${classField.column} (class): the class is empty`);
    const earlierLine = caseLines.get(caseNumber);
    if (earlierLine !== undefined) {
      const f = field(caseAt);
      fail(`line ${f.line}, column ${f.column} (case_number): case ${caseNumber} already appears on line ${earlierLine}`);
    }
    caseLines.set(caseNumber, record.line);
    const row: PromptRow = { caseNumber, prompt: field(promptAt).value, evaluationSeed, className: classField.value };
    if (extraNames.length > 0) {
      const extra: Record<string, string> = {};
      for (const name of extraNames) extra[name] = field(index(name)).value;
      rows.push({ ...row, extra });
    } else {
      rows.push(row);
    }
  }
  if (rows.length === 0) fail(`the header on line ${header.line} is followed by no rows`);
  return rows;
}

/**
 * Formats rows as a prompts CSV: the four required columns, then every extra column (in first-seen order; a row
 * without one writes an empty field). Prompts with commas, quotes or line breaks are quoted per RFC 4180.
 *
 * @throws InvalidOptionError for a non-integer or negative case number or seed, an empty class, a duplicated
 *   case number, or an extra column named like a required one.
 */
export function formatPromptsCsv(rows: readonly PromptRow[], lineEnding: '\n' | '\r\n' = '\n'): string {
  const extraNames: string[] = [];
  const cases = new Set<number>();
  rows.forEach((row, i) => {
    for (const [key, value] of [
      ['caseNumber', row.caseNumber],
      ['evaluationSeed', row.evaluationSeed],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new InvalidOptionError({ option: `rows[${i}].${key}`, expected: 'a non-negative safe integer', received: value });
      }
    }
    if (typeof row.className !== 'string' || row.className === '') {
      throw new InvalidOptionError({ option: `rows[${i}].className`, expected: 'a non-empty string', received: row.className });
    }
    if (cases.has(row.caseNumber)) {
      throw new InvalidOptionError({ option: `rows[${i}].caseNumber`, expected: 'a case number not used by an earlier row', received: row.caseNumber });
    }
    cases.add(row.caseNumber);
    for (const name of Object.keys(row.extra ?? {})) {
      if ((PROMPT_CSV_COLUMNS as readonly string[]).includes(name)) {
        throw new InvalidOptionError({ option: `rows[${i}].extra`, expected: `no column named like a required one (${PROMPT_CSV_COLUMNS.join(', ')})`, received: name });
      }
      if (!extraNames.includes(name)) extraNames.push(name);
    }
  });
  const table: string[][] = [[...PROMPT_CSV_COLUMNS, ...extraNames]];
  for (const row of rows) {
    table.push([
      String(row.caseNumber),
      row.prompt,
      String(row.evaluationSeed),
      row.className,
      ...extraNames.map((name) => row.extra?.[name] ?? ''),
    ]);
  }
  return formatCsv(table, lineEnding);
}
