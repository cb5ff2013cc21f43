/**
 * Renders an erasure report as markdown, CSV or JSON, and writes all three files atomically.
 *
 * Layout (all three): rows = erased classes then the average; per method four columns Acc_e, Acc_s, Acc_g, H_o.
 */
import { InvalidOptionError } from '@erase/core';
import { formatCsv } from '../harness/csv';
import { writeTextFileAtomic } from '../harness/files';
import type { ErasureMetrics } from '../metrics/erasure-accuracy';
import type { ErasureReport } from './erasure-report';

const COLUMNS: readonly { key: keyof ErasureMetrics; label: string; arrow: string }[] = [
  { key: 'accE', label: 'Acc_e', arrow: '↓' },
  { key: 'accS', label: 'Acc_s', arrow: '↑' },
  { key: 'accG', label: 'Acc_g', arrow: '↓' },
  { key: 'ho', label: 'H_o', arrow: '↑' },
];

function checkDecimals(decimals: number | undefined): void {
  if (decimals !== undefined && (!Number.isInteger(decimals) || decimals < 0 || decimals > 20)) {
    throw new InvalidOptionError({ option: 'decimals', expected: 'an integer in [0, 20]', received: decimals });
  }
}

function averageLabel(report: ErasureReport): string {
  const count = report.rows.filter((r) => !r.isAverage).length;
  return `Average across ${count} ${count === 1 ? 'class' : 'classes'}`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * A markdown table with a `### title` heading; numbers with `decimals` digits (default 2, as the paper).
 *
 * @throws InvalidOptionError for `decimals` outside [0, 20].
 */
export function erasureReportToMarkdown(report: ErasureReport, options: { readonly decimals?: number } = {}): string {
  checkDecimals(options.decimals);
  const decimals = options.decimals ?? 2;
  const header = ['Erased class', ...report.methods.flatMap((m) => COLUMNS.map((c) => `${m} ${c.label} ${c.arrow}`))];
  const lines = [
    `### ${escapeMarkdown(report.title)}`,
    '',
    `| ${header.map(escapeMarkdown).join(' | ')} |`,
    `| --- | ${header.slice(1).map(() => '---:').join(' | ')} |`,
  ];
  for (const row of report.rows) {
    const name = row.isAverage ? `**${averageLabel(report)}**` : escapeMarkdown(row.erasedClass);
    const values = report.methods.flatMap((m) => COLUMNS.map((c) => (row.cells[m]?.[c.key] ?? Number.NaN).toFixed(decimals)));
    lines.push(`| ${name} | ${values.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * CSV (RFC 4180) with header `erased_class,{method} Acc_e,{method} Acc_s,{method} Acc_g,{method} H_o,…`; the
 * last row's class is `average`. Numbers at full precision unless `decimals` is given.
 *
 * @throws InvalidOptionError for `decimals` outside [0, 20].
 */
export function erasureReportToCsv(report: ErasureReport, options: { readonly decimals?: number } = {}): string {
  checkDecimals(options.decimals);
  const format = (x: number): string => (options.decimals === undefined ? String(x) : x.toFixed(options.decimals));
  const table: string[][] = [['erased_class', ...report.methods.flatMap((m) => COLUMNS.map((c) => `${m} ${c.label}`))]];
  for (const row of report.rows) {
    table.push([row.erasedClass, ...report.methods.flatMap((m) => COLUMNS.map((c) => format(row.cells[m]?.[c.key] ?? Number.NaN)))]);
  }
  return formatCsv(table);
}

/** The report as pretty-printed JSON (read back with `parseErasureReportJson`). */
export function erasureReportToJson(report: ErasureReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Writes `{basePath}.md`, `{basePath}.csv` and `{basePath}.json`, each atomically.
 *
 * @returns the three paths.
 */
export async function writeErasureReportFiles(basePath: string, report: ErasureReport): Promise<{ markdown: string; csv: string; json: string }> {
  const paths = { markdown: `${basePath}.md`, csv: `${basePath}.csv`, json: `${basePath}.json` };
  await writeTextFileAtomic(paths.markdown, erasureReportToMarkdown(report));
  await writeTextFileAtomic(paths.csv, erasureReportToCsv(report));
  await writeTextFileAtomic(paths.json, erasureReportToJson(report));
  return paths;
}
