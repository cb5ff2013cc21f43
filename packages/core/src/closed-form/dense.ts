/**
 * Float64 dense kernels for the closed form: products, weighted Gram sums and a Cholesky solve.
 *
 * All matrices are row-major `HostMatrix` values; results are new Float64Arrays. Loops are ordered so
 * the innermost one walks contiguous memory (row · row dot products or row axpys).
 * The factorization itself is ml-matrix's `CholeskyDecomposition` (float64); the triangular solves are
 * done here on flat arrays because ml-matrix's element accessors dominate at D = 768.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { NotPositiveDefiniteError } from '../errors/errors';
import type { HostMatrix } from './host-matrix';

/** `a · bᵀ`: a [r, k], b [c, k] → [r, c]. Dimensions are the caller's responsibility. */
export function multiplyTransposeB(a: HostMatrix, b: HostMatrix): HostMatrix {
  const r = a.rows;
  const c = b.rows;
  const k = a.cols;
  const out = new Float64Array(r * c);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < r; i++) {
    const ai = i * k;
    for (let j = 0; j < c; j++) {
      const bj = j * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += (ad[ai + t] as number) * (bd[bj + t] as number);
      out[i * c + j] = s;
    }
  }
  return { rows: r, cols: c, data: out };
}

/** `aᵀ · b`: a [k, r], b [k, c] → [r, c]. */
export function multiplyTransposeA(a: HostMatrix, b: HostMatrix): HostMatrix {
  const r = a.cols;
  const c = b.cols;
  const k = a.rows;
  const out = new Float64Array(r * c);
  const ad = a.data;
  const bd = b.data;
  for (let t = 0; t < k; t++) {
    const bt = t * c;
    for (let i = 0; i < r; i++) {
      const x = ad[t * r + i] as number;
      if (x === 0) continue;
      const oi = i * c;
      for (let j = 0; j < c; j++) out[oi + j] = (out[oi + j] as number) + x * (bd[bt + j] as number);
    }
  }
  return { rows: r, cols: c, data: out };
}

/** `a · b`: a [r, k], b [k, c] → [r, c]. */
export function multiply(a: HostMatrix, b: HostMatrix): HostMatrix {
  const r = a.rows;
  const c = b.cols;
  const k = a.cols;
  const out = new Float64Array(r * c);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < r; i++) {
    const oi = i * c;
    for (let t = 0; t < k; t++) {
      const x = ad[i * k + t] as number;
      if (x === 0) continue;
      const bt = t * c;
      for (let j = 0; j < c; j++) out[oi + j] = (out[oi + j] as number) + x * (bd[bt + j] as number);
    }
  }
  return { rows: r, cols: c, data: out };
}

/**
 * Adds `scale · Σ_r w_r x_r x_rᵀ` (x_r the rows of `x` [n, D]) to the *upper triangle* of `gram` (D×D,
 * row-major). Call `mirrorUpper` once after the last sum to make the matrix exactly symmetric.
 */
export function addWeightedGramUpper(gram: Float64Array, x: HostMatrix, weights: Float64Array, scale: number): void {
  const dim = x.cols;
  const xd = x.data;
  for (let r = 0; r < x.rows; r++) {
    const s = scale * (weights[r] as number);
    if (s === 0) continue;
    const xr = r * dim;
    for (let i = 0; i < dim; i++) {
      const xi = s * (xd[xr + i] as number);
      if (xi === 0) continue;
      const gi = i * dim;
      for (let j = i; j < dim; j++) gram[gi + j] = (gram[gi + j] as number) + xi * (xd[xr + j] as number);
    }
  }
}

/** Copies the upper triangle of a D×D row-major matrix onto its lower triangle (exact symmetry). */
export function mirrorUpper(gram: Float64Array, dim: number): void {
  for (let i = 0; i < dim; i++) {
    for (let j = i + 1; j < dim; j++) gram[j * dim + i] = gram[i * dim + j] as number;
  }
}

/**
 * Cholesky factor `L` (lower, row-major D×D, float64) of the symmetric matrix `gram` (exactly symmetric:
 * build it with `addWeightedGramUpper` + `mirrorUpper`).
 *
 * ml-matrix only flags a pivot `d ≤ 0`; a rank-deficient Gram matrix usually yields a tiny positive pivot
 * from rounding instead. So a pivot `L_jj²` below `16 · D · ε · max_k G_kk` also counts as singular: a
 * system that ill-conditioned cannot be solved meaningfully in float64.
 * @throws NotPositiveDefiniteError naming `option` (with its `current` value) when the matrix is not
 *   (numerically) positive definite.
 */
export function choleskyFactor(
  gram: Float64Array,
  dim: number,
  what: string,
  option: string,
  current: number,
): Float64Array {
  const decomposition = new CholeskyDecomposition(Matrix.from1DArray(dim, dim, gram));
  let maxDiag = 0;
  for (let i = 0; i < dim; i++) maxDiag = Math.max(maxDiag, gram[i * dim + i] as number);
  if (!decomposition.isPositiveDefinite() || !(maxDiag > 0)) {
    throw new NotPositiveDefiniteError({ what, option, current });
  }
  const lower = decomposition.lowerTriangularMatrix;
  const out = new Float64Array(dim * dim);
  const floor = 16 * dim * Number.EPSILON * maxDiag;
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) out[i * dim + j] = lower.get(i, j);
    const pivot = out[i * dim + i] as number;
    if (!(pivot * pivot > floor)) throw new NotPositiveDefiniteError({ what, option, current });
  }
  return out;
}

/**
 * Solves `(L Lᵀ) X = B` in place: `rhs` is B [D, k] row-major on entry and X on return.
 * `lower` comes from `choleskyFactor`.
 */
export function choleskySolveInPlace(lower: Float64Array, dim: number, rhs: Float64Array, k: number): void {
  // Forward: L Y = B, row by row (each row of Y is a contiguous axpy target).
  for (let i = 0; i < dim; i++) {
    const yi = i * k;
    for (let t = 0; t < i; t++) {
      const l = lower[i * dim + t] as number;
      if (l === 0) continue;
      const yt = t * k;
      for (let j = 0; j < k; j++) rhs[yi + j] = (rhs[yi + j] as number) - l * (rhs[yt + j] as number);
    }
    const inv = 1 / (lower[i * dim + i] as number);
    for (let j = 0; j < k; j++) rhs[yi + j] = (rhs[yi + j] as number) * inv;
  }
  // Backward: Lᵀ X = Y, from the last row up.
  for (let i = dim - 1; i >= 0; i--) {
    const xi = i * k;
    for (let t = i + 1; t < dim; t++) {
      const l = lower[t * dim + i] as number;
      if (l === 0) continue;
      const xt = t * k;
      for (let j = 0; j < k; j++) rhs[xi + j] = (rhs[xi + j] as number) - l * (rhs[xt + j] as number);
    }
    const inv = 1 / (lower[i * dim + i] as number);
    for (let j = 0; j < k; j++) rhs[xi + j] = (rhs[xi + j] as number) * inv;
  }
}

/** The transpose of `m` as a new float64 matrix. */
export function transpose(m: HostMatrix): HostMatrix {
  const out = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j] as number;
  }
  return { rows: m.cols, cols: m.rows, data: out };
}
