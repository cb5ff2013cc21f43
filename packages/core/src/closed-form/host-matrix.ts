/**
 * Host-side matrices for the closed-form edit: plain row-major arrays with explicit dimensions.
 *
 * Element (i, j) of a `HostMatrix` m is `m.data[i * m.cols + j]`. Inputs may be float32 or float64;
 * every result of this folder is float64. Nothing here touches tfjs.
 */
import { InvalidOptionError, ShapeMismatchError } from '../errors/errors';

/** A dense row-major matrix on the host. `data.length === rows * cols`. */
export interface HostMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array | Float32Array;
}

/**
 * Makes a `HostMatrix` from row-major values (copied into a new Float64Array when given a plain array).
 * @param rows number of rows. @param cols number of columns.
 * @param data `rows * cols` values, row-major; a typed array is used as is (not copied).
 * @throws ShapeMismatchError when `data` has the wrong length; InvalidOptionError for bad dimensions.
 */
export function hostMatrix(
  rows: number,
  cols: number,
  data: Float64Array | Float32Array | readonly number[],
): HostMatrix {
  const values = data instanceof Float64Array || data instanceof Float32Array ? data : Float64Array.from(data);
  const matrix = { rows, cols, data: values };
  checkHostMatrix(matrix, 'hostMatrix');
  return matrix;
}

/**
 * Checks that `value` is a well-formed HostMatrix with finite entries, and (optionally) its dimensions.
 * `expectedRows`/`expectedCols` of `null` accept any size.
 * @throws InvalidOptionError (option `name`) for a malformed value or a non-finite entry;
 *   ShapeMismatchError when a dimension differs from the expected one.
 */
export function checkHostMatrix(
  value: unknown,
  name: string,
  expectedRows: number | null = null,
  expectedCols: number | null = null,
): asserts value is HostMatrix {
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionError({ option: name, expected: 'a HostMatrix {rows, cols, data}', received: value });
  }
  const { rows, cols, data } = value as Partial<HostMatrix>;
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || (rows as number) < 0 || (cols as number) < 0) {
    throw new InvalidOptionError({
      option: `${name}.rows/cols`,
      expected: 'non-negative integers',
      received: `${String(rows)} x ${String(cols)}`,
    });
  }
  if (!(data instanceof Float64Array) && !(data instanceof Float32Array)) {
    throw new InvalidOptionError({ option: `${name}.data`, expected: 'a Float64Array or Float32Array', received: data });
  }
  const r = rows as number;
  const c = cols as number;
  if (data.length !== r * c) {
    throw new ShapeMismatchError({ what: `${name}.data length (rows * cols)`, expected: [r * c], received: [data.length] });
  }
  if ((expectedRows !== null && r !== expectedRows) || (expectedCols !== null && c !== expectedCols)) {
    throw new ShapeMismatchError({ what: name, expected: [expectedRows, expectedCols], received: [r, c] });
  }
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as number;
    if (!Number.isFinite(x)) {
      throw new InvalidOptionError({
        option: name,
        expected: 'finite entries',
        received: x,
        message: `Invalid option \`${name}\`: entry (${Math.floor(i / c)}, ${i % c}) is ${x}; every entry must be finite.`,
      });
    }
  }
}

/**
 * Checks optional per-row weights: `count` finite, non-negative numbers; returns them as float64
 * (all ones when `weights` is undefined).
 * @throws ShapeMismatchError for the wrong length; InvalidOptionError for a negative or non-finite weight.
 */
export function resolveRowWeights(weights: ArrayLike<number> | undefined, count: number, name: string): Float64Array {
  const out = new Float64Array(count);
  if (weights === undefined) return out.fill(1);
  if (weights.length !== count) {
    throw new ShapeMismatchError({ what: `${name} (one weight per key)`, expected: [count], received: [weights.length] });
  }
  for (let i = 0; i < count; i++) {
    const w = weights[i] as number;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new InvalidOptionError({ option: `${name}[${i}]`, expected: 'a finite number >= 0', received: w });
    }
    out[i] = w;
  }
  return out;
}

/** ‖m‖_F, the Frobenius norm (float64 accumulation). */
export function frobeniusNorm(m: HostMatrix): number {
  let sum = 0;
  const d = m.data;
  for (let i = 0; i < d.length; i++) {
    const x = d[i] as number;
    sum += x * x;
  }
  return Math.sqrt(sum);
}

/** ‖a − b‖_F for two matrices of the same size. @throws ShapeMismatchError when the sizes differ. */
export function frobeniusDistance(a: HostMatrix, b: HostMatrix): number {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new ShapeMismatchError({ what: 'frobeniusDistance operands', expected: [a.rows, a.cols], received: [b.rows, b.cols] });
  }
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = (a.data[i] as number) - (b.data[i] as number);
    sum += x * x;
  }
  return Math.sqrt(sum);
}
