/**
 * Parity helpers for tests: locate ../shared/fixtures, compare arrays and report like llm.c's test_gpt2.c
 * (max abs diff, where, and the first mismatching values side by side).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (…/main). */
export const repoRoot = resolve(here, '../../..');

/** `../shared/fixtures` next to the repository, or `undefined` when absent. */
export function fixturesDir(): string | undefined {
  const candidates = [process.env.ERASE_FIXTURES, join(repoRoot, '../shared/fixtures'), join(repoRoot, 'shared/fixtures')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return undefined;
}

/** Path of a parity fixture; throws (so the test fails) when the fixtures are absent. */
export function fixture(...parts: string[]): string {
  const dir = fixturesDir();
  if (!dir) throw new Error('Parity fixtures not found: expected ../shared/fixtures next to the repository (or ERASE_FIXTURES).');
  return join(dir, ...parts);
}

/** Result of comparing two arrays. */
export interface Comparison {
  readonly maxAbsDiff: number;
  readonly argMax: number;
  readonly report: string;
}

/**
 * Compares `actual` with `expected` (same length, row-major with `shape`). The report names the max abs diff,
 * its multi-index, and the first `show` mismatches above `atol`.
 */
export function compareArrays(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  shape: readonly number[],
  atol: number,
  show = 8,
): Comparison {
  if (actual.length !== expected.length) {
    return { maxAbsDiff: Infinity, argMax: -1, report: `${name}: length ${actual.length} != expected ${expected.length}` };
  }
  let maxAbsDiff = 0;
  let argMax = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const d = Math.abs(a - e);
    if (!(d <= maxAbsDiff) || Number.isNaN(d)) {
      maxAbsDiff = Number.isNaN(d) ? Infinity : d;
      argMax = i;
    }
    if ((!(d <= atol) || Number.isNaN(d)) && mismatches.length < show) {
      mismatches.push(`  [${unravel(i, shape).join(', ')}] actual ${a.toPrecision(8)} expected ${e.toPrecision(8)}`);
    }
  }
  const report =
    `${name}: max abs diff ${maxAbsDiff.toExponential(3)} at [${unravel(argMax, shape).join(', ')}] (atol ${atol})` +
    (mismatches.length ? `\nfirst mismatches:\n${mismatches.join('\n')}` : '');
  return { maxAbsDiff, argMax, report };
}

/** Row-major flat index → multi-index. */
export function unravel(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d] as number;
    out[d] = rest % size;
    rest = Math.floor(rest / size);
  }
  return out;
}

/** NCHW → NHWC for a flat array. */
export function nchwToNhwc(data: ArrayLike<number>, shape: readonly [number, number, number, number]): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x] as number;
  return out;
}
