import { rmSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { parseCsv } from '../harness/csv';
import { buildErasureReport, parseErasureReportJson } from './erasure-report';
import type { MethodErasureResults } from './erasure-report';
import { erasureReportToCsv, erasureReportToJson, erasureReportToMarkdown, writeErasureReportFiles } from './render';

// Two classes of RealEra Table 1 (values as printed) for two methods; averages worked by hand:
//   MACE    Acc_e (9.06 + 6.97)/2 = 8.015, H_o (92.03 + 91.15)/2 = 91.59
//   RealEra Acc_e (3.38 + 1.93)/2 = 2.655, H_o (94.58 + 96.88)/2 = 95.73
const methods: MethodErasureResults[] = [
  {
    method: 'MACE',
    perClass: [
      { erasedClass: 'airplane', accE: 9.06, accS: 95.39, accG: 10.03, ho: 92.03 },
      { erasedClass: 'automobile', accE: 6.97, accS: 95.18, accG: 14.22, ho: 91.15 },
    ],
  },
  {
    method: 'RealEra',
    perClass: [
      { erasedClass: 'automobile', accE: 1.93, accS: 97.54, accG: 4.82, ho: 96.88 },
      { erasedClass: 'airplane', accE: 3.38, accS: 96.18, accG: 8.87, ho: 94.58 },
    ],
  },
];

const tempDirs: string[] = [];
const tempDir = (dir: string): string => (tempDirs.push(dir), dir);
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('buildErasureReport', () => {
  const report = buildErasureReport({ methods, title: 'CIFAR-10', variant: 'meanProbability' });

  it('rows follow the first method, then the average row', () => {
    expect(report.methods).toEqual(['MACE', 'RealEra']);
    expect(report.rows.map((r) => r.erasedClass)).toEqual(['airplane', 'automobile', 'average']);
    expect(report.rows[0]?.cells['RealEra']).toEqual({ accE: 3.38, accS: 96.18, accG: 8.87, ho: 94.58 });
    const average = report.rows[2];
    expect(average?.isAverage).toBe(true);
    expect(average?.cells['MACE']?.accE).toBeCloseTo(8.015, 10);
    expect(average?.cells['MACE']?.ho).toBeCloseTo(91.59, 10);
    expect(average?.cells['RealEra']?.accE).toBeCloseTo(2.655, 10);
    expect(average?.cells['RealEra']?.ho).toBeCloseTo(95.73, 10);
  });

  it('renders markdown in the shape of Table 1', () => {
    const md = erasureReportToMarkdown(report);
    const lines = md.trimEnd().split('\n');
    expect(lines[0]).toBe('### CIFAR-10');
    expect(lines[2]).toBe(
      '| Erased class | MACE Acc_e ↓ | MACE Acc_s ↑ | MACE Acc_g ↓ | MACE H_o ↑ | RealEra Acc_e ↓ | RealEra Acc_s ↑ | RealEra Acc_g ↓ | RealEra H_o ↑ |',
    );
    expect(lines[3]).toBe('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    expect(lines[4]).toBe('| airplane | 9.06 | 95.39 | 10.03 | 92.03 | 3.38 | 96.18 | 8.87 | 94.58 |');
    expect(lines[6]).toMatch(/^\| \*\*Average across 2 classes\*\* \| 8\.02 \| /);
  });

  it('renders CSV with the same rows and full precision', () => {
    const records = parseCsv(erasureReportToCsv(report), 'report.csv').map((r) => r.fields.map((f) => f.value));
    expect(records[0]).toEqual(['erased_class', 'MACE Acc_e', 'MACE Acc_s', 'MACE Acc_g', 'MACE H_o', 'RealEra Acc_e', 'RealEra Acc_s', 'RealEra Acc_g', 'RealEra H_o']);
    expect(records[2]).toEqual(['automobile', '6.97', '95.18', '14.22', '91.15', '1.93', '97.54', '4.82', '96.88']);
    expect(records[3]?.[0]).toBe('average');
    expect(Number(records[3]?.[1])).toBeCloseTo(8.015, 10);
    expect(parseCsv(erasureReportToCsv(report, { decimals: 1 }), 'r.csv')[3]?.fields[4]?.value).toBe('91.6');
  });

  it('round-trips through JSON and writes all three files', async () => {
    expect(parseErasureReportJson(erasureReportToJson(report))).toEqual(report);
    const dir = tempDir(mkdtempSync(join(tmpdir(), 'erase-report-')));
    const paths = await writeErasureReportFiles(join(dir, 'table1'), report);
    expect(readdirSync(dir).sort()).toEqual(['table1.csv', 'table1.json', 'table1.md']);
    expect(readFileSync(paths.markdown, 'utf8')).toBe(erasureReportToMarkdown(report));
  });

  it('escapes pipes in names', () => {
    const piped = buildErasureReport({ methods: [{ method: 'A|B', perClass: [{ erasedClass: 'x|y', accE: 1, accS: 2, accG: 3, ho: 4 }] }] });
    expect(erasureReportToMarkdown(piped)).toContain('| x\\|y | 1.00 |');
  });

  it('rejects methods that cover different classes, listing every difference', () => {
    const uneven: MethodErasureResults[] = [methods[0] as MethodErasureResults, { method: 'UCE', perClass: [{ erasedClass: 'bird', accE: 1, accS: 2, accG: 3, ho: 4 }] }];
    expect(() => buildErasureReport({ methods: uneven })).toThrow(/UCE lacks airplane, automobile; UCE has bird, which MACE lacks/);
    expect(() => buildErasureReport({ methods: [] })).toThrow(InvalidOptionError);
    expect(() => buildErasureReport({ methods: [methods[0] as MethodErasureResults, methods[0] as MethodErasureResults] })).toThrow(InvalidOptionError);
    const nan = [{ method: 'M', perClass: [{ erasedClass: 'a', accE: Number.NaN, accS: 1, accG: 1, ho: 1 }] }];
    expect(() => buildErasureReport({ methods: nan })).toThrow(InvalidOptionError);
    expect(() => erasureReportToMarkdown(buildErasureReport({ methods }), { decimals: -1 })).toThrow(InvalidOptionError);
  });

  it('rejects JSON that is not a report', () => {
    expect(() => parseErasureReportJson('{', 'r.json')).toThrow(FileFormatError);
    expect(() => parseErasureReportJson('{"schema":"other"}', 'r.json')).toThrow(/^r\.json: wrong or missing "schema"/);
    const broken = JSON.parse(erasureReportToJson(report));
    broken.rows[0].cells.MACE.ho = 'high';
    expect(() => parseErasureReportJson(JSON.stringify(broken))).toThrow(/rows\[0\]\.cells\["MACE"\]\.ho/);
  });
});
