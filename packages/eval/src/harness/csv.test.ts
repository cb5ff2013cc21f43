import { describe, expect, it } from 'vitest';
import { FileFormatError } from '@erase/core';
import { formatCsv, formatCsvField, parseCsv } from './csv';

const values = (text: string): string[][] => parseCsv(text, 'test.csv').map((r) => r.fields.map((f) => f.value));

describe('parseCsv (RFC 4180)', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    const text = 'a,b,c\r\n1,"x, y","say ""hi"""\r\n2,"line one\nline two",\r\n';
    expect(values(text)).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, y', 'say "hi"'],
      ['2', 'line one\nline two', ''],
    ]);
  });

  it('accepts LF and CR line ends, a BOM, no final newline, and skips blank lines', () => {
    expect(values('\ufeffa,b\n\n1,2\r3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
  });

  it('keeps a quoted empty field and empty fields at the ends', () => {
    expect(values('""\n,x,\n')).toEqual([[''], ['', 'x', '']]);
  });

  it('reports where fields and records start', () => {
    const records = parseCsv('h1,h2\n"multi\nline",second\nlast,"q"\n', 'f.csv');
    expect(records.map((r) => r.line)).toEqual([1, 2, 4]);
    const second = records[1]?.fields[1];
    expect([second?.line, second?.column]).toEqual([3, 7]);
    expect(records[2]?.fields[1]?.quoted).toBe(true);
  });

  it.each([
    ['an unterminated quote', 'a,b\n1,"open\n2,3\n', /line 2, column 3: the quoted field opened here is never closed/],
    ['a quote inside an unquoted field', 'a,b\n1,ab"c\n', /line 2, column 5: a quote inside an unquoted field/],
    ['text after a closing quote', 'a,b\n1,"ab"c,3\n', /line 2, column 7: unexpected "c" after the closing quote/],
  ])('rejects %s with FileFormatError naming line and column', (_what, text, message) => {
    expect(() => parseCsv(text, 'bad.csv')).toThrow(FileFormatError);
    expect(() => parseCsv(text, 'bad.csv')).toThrow(message);
    expect(() => parseCsv(text, 'bad.csv')).toThrow(/^bad\.csv: /);
  });
});

describe('formatCsv', () => {
  it('quotes exactly the fields that need it', () => {
    expect(formatCsvField('plain text')).toBe('plain text');
    expect(formatCsvField('a, b')).toBe('"a, b"');
    expect(formatCsvField('say "hi"')).toBe('"say ""hi"""');
    expect(formatCsvField('two\nlines')).toBe('"two\nlines"');
    expect(formatCsvField('')).toBe('');
  });

  it('round-trips awkward values through parseCsv', () => {
    const rows = [
      ['id', 'text', 'empty'],
      ['1', 'a "quoted", comma', ''],
      ['2', 'line\r\nbreak and trailing quote"', ' spaces '],
      ['3', '"', ','],
    ];
    for (const ending of ['\n', '\r\n'] as const) expect(values(formatCsv(rows, ending))).toEqual(rows);
  });

  it('writes a lone empty field as "" so it survives a read', () => {
    expect(values(formatCsv([['h'], [''], ['x']]))).toEqual([['h'], [''], ['x']]);
  });
});
