/**
 * A report in the shape of RealEra's Table 1: one row per erased class plus the average row, and per method
 * the four columns Acc_e ↓, Acc_s ↑, Acc_g ↓, H_o ↑ (percent). The average row is `averageErasureMetrics`: the
 * mean of each column, H_o as the mean of per-class H_o.
 */
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { averageErasureMetrics } from '../metrics/erasure-accuracy';
import type { AccuracyVariant, ErasureMetrics } from '../metrics/erasure-accuracy';

/** Schema tag written into report JSON. */
export const ERASURE_REPORT_SCHEMA = 'erase.eval/erasure-report@1';

/** One method's per-class results (e.g. `scoreErasedClass` outputs). */
export interface MethodErasureResults {
  readonly method: string;
  readonly perClass: readonly (ErasureMetrics & { readonly erasedClass: string })[];
}

/** One table row: an erased class or the average, with each method's four metrics. */
export interface ErasureReportRow {
  /** The erased class, or `"average"` on the last row. */
  readonly erasedClass: string;
  readonly isAverage: boolean;
  /** Metrics by method name. */
  readonly cells: Readonly<Record<string, ErasureMetrics>>;
}

/** The whole table. */
export interface ErasureReport {
  readonly schema: typeof ERASURE_REPORT_SCHEMA;
  readonly title: string;
  /** How Acc was computed, when known. */
  readonly variant?: AccuracyVariant;
  /** Methods in column order. */
  readonly methods: readonly string[];
  /** Erased classes in row order, then the average row. */
  readonly rows: readonly ErasureReportRow[];
}

/**
 * Builds the table. Rows follow the first method's class order; every method must cover the same classes.
 *
 * @throws InvalidOptionError for no methods, an empty or duplicated method name, a class repeated within a
 *   method, methods covering different classes (every difference listed), a class named `"average"`, or a
 *   metric that is not a finite number.
 */
export function buildErasureReport(args: {
  readonly methods: readonly MethodErasureResults[];
  readonly title?: string;
  readonly variant?: AccuracyVariant;
}): ErasureReport {
  const { methods } = args;
  if (methods.length === 0) throw new InvalidOptionError({ option: 'methods', expected: 'at least one method', received: methods });
  const names = methods.map((m) => m.method);
  if (names.some((n) => typeof n !== 'string' || n === '') || new Set(names).size !== names.length) {
    throw new InvalidOptionError({ option: 'methods', expected: 'distinct, non-empty method names', received: names.join(', ') });
  }
  const first = methods[0] as MethodErasureResults;
  const classes = first.perClass.map((r) => r.erasedClass);
  const problems: string[] = [];
  for (const m of methods) {
    const own = m.perClass.map((r) => r.erasedClass);
    if (new Set(own).size !== own.length) problems.push(`${m.method} repeats a class`);
    if (own.includes('average')) problems.push(`${m.method} has a class named "average", which the average row uses`);
    const missing = classes.filter((c) => !own.includes(c));
    const extra = own.filter((c) => !classes.includes(c));
    if (missing.length > 0) problems.push(`${m.method} lacks ${missing.join(', ')}`);
    if (extra.length > 0) problems.push(`${m.method} has ${extra.join(', ')}, which ${first.method} lacks`);
  }
  if (classes.length === 0) problems.push(`${first.method} has no classes`);
  if (problems.length > 0) {
    throw new InvalidOptionError({ option: 'methods', expected: 'every method scoring the same erased classes once each', received: problems.join('; ') });
  }

  const rows: ErasureReportRow[] = classes.map((erasedClass) => {
    const cells: Record<string, ErasureMetrics> = {};
    for (const m of methods) {
      const r = m.perClass.find((x) => x.erasedClass === erasedClass) as ErasureMetrics & { erasedClass: string };
      cells[m.method] = pickMetrics(r, `${m.method}/${erasedClass}`);
    }
    return { erasedClass, isAverage: false, cells };
  });
  const average: Record<string, ErasureMetrics> = {};
  for (const m of methods) average[m.method] = averageErasureMetrics(m.perClass);
  rows.push({ erasedClass: 'average', isAverage: true, cells: average });

  const report: ErasureReport = {
    schema: ERASURE_REPORT_SCHEMA,
    title: args.title ?? 'Evaluation of concept erasing',
    methods: names,
    rows,
  };
  return args.variant ? { ...report, variant: args.variant } : report;
}

/**
 * Reads a report written by `erasureReportToJson`.
 *
 * @throws FileFormatError (naming `source`) for text that is not JSON or not a report of this schema.
 */
export function parseErasureReportJson(text: string, source = 'erasure report JSON'): ErasureReport {
  const fail = (problem: string): never => {
    throw new FileFormatError({ file: source, expected: `a JSON object with schema "${ERASURE_REPORT_SCHEMA}"`, problem });
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message})`);
  }
  const report = value as Partial<ErasureReport> | null;
  if (typeof report !== 'object' || report === null || report.schema !== ERASURE_REPORT_SCHEMA) fail('wrong or missing "schema"');
  const r = report as ErasureReport;
  if (typeof r.title !== 'string' || !Array.isArray(r.methods) || !Array.isArray(r.rows)) fail('"title", "methods" or "rows" missing');
  r.rows.forEach((row, i) => {
    if (typeof row?.erasedClass !== 'string' || typeof row.isAverage !== 'boolean' || typeof row.cells !== 'object') {
      fail(`rows[${i}] is not {erasedClass, isAverage, cells}`);
    }
    for (const method of r.methods) {
      const cell = row.cells[method];
      for (const key of ['accE', 'accS', 'accG', 'ho'] as const) {
        if (typeof cell?.[key] !== 'number' || !Number.isFinite(cell[key])) fail(`rows[${i}].cells[${JSON.stringify(method)}].${key} is not a finite number`);
      }
    }
  });
  return r;
}

function pickMetrics(m: ErasureMetrics, where: string): ErasureMetrics {
  for (const key of ['accE', 'accS', 'accG', 'ho'] as const) {
    if (typeof m[key] !== 'number' || !Number.isFinite(m[key])) {
      throw new InvalidOptionError({ option: `methods ${where}.${key}`, expected: 'a finite number', received: m[key] });
    }
  }
  return { accE: m.accE, accS: m.accS, accG: m.accG, ho: m.ho };
}
