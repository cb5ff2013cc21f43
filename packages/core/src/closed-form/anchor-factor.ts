/**
 * Fast path of the closed-form edit when every target is an anchor key mapped by the original W
 * (methods.md §1; UCE technique `replace`, RealEra stage 1).
 *
 * Notation (see key-system.ts): C [n, D] erase keys, A [n, D] anchor keys c*_i (row i pairs with c_i),
 * P [m, D] preserve keys, w the per-row weights, G the D×D Gram matrix. With v*_i = W c*_i the numerator
 * of the closed form is W · G*, so
 *
 *   W_new = W · M,   M = G* G⁻¹,   G* = λI + s_e Σ_i w_i c*_i c_iᵀ + s_p Σ_j w_j c_j c_jᵀ,
 *
 * one D×D factor shared by every projection (all 32 `attn2.to_k/to_v` of SD 1.x). Because
 * G* = G + s_e Σ w_i (c*_i − c_i) c_iᵀ, M = I + (A − C)ᵀ K with K = s_e diag(w) C G⁻¹ [n, D]: no inverse
 * is formed, only the Cholesky solve of key-system.ts.
 */
import { ShapeMismatchError } from '../errors/errors';
import { multiply, multiplyTransposeA } from './dense';
import { checkHostMatrix, type HostMatrix } from './host-matrix';
import { buildKeySystem, type ClosedFormOptions, type EditKeys, type KeySystem } from './key-system';

/** Keys of an anchor edit: erase keys C, their anchors A (same shape), optional preserve keys and weights. */
export interface AnchorEditKeys extends EditKeys {
  /** A [n, D]: anchor key c*_i for each erase key c_i (row-aligned with `eraseKeys`). */
  readonly anchorKeys: HostMatrix;
}

/** Δ = A − C [n, D], float64. @throws ShapeMismatchError when A and C differ in shape. */
export function anchorOffsets(eraseKeys: HostMatrix, anchorKeys: HostMatrix): HostMatrix {
  checkHostMatrix(anchorKeys, 'anchorKeys', eraseKeys.rows, eraseKeys.cols);
  const out = new Float64Array(eraseKeys.rows * eraseKeys.cols);
  for (let i = 0; i < out.length; i++) out[i] = (anchorKeys.data[i] as number) - (eraseKeys.data[i] as number);
  return { rows: eraseKeys.rows, cols: eraseKeys.cols, data: out };
}

/**
 * M = I + (A − C)ᵀ K [D, D] from an already factored key system (float64).
 * @throws ShapeMismatchError when `anchorKeys` is not shaped like the system's erase keys.
 */
export function anchorFactorFromKeySystem(system: KeySystem, anchorKeys: HostMatrix): HostMatrix {
  const offsets = anchorOffsets(system.eraseKeys, anchorKeys); // [n, D]
  const factor = multiplyTransposeA(offsets, system.gain); // [n, D]ᵀ x [n, D] -> [D, D]
  const m = factor.data as Float64Array;
  for (let i = 0; i < system.dim; i++) m[i * system.dim + i] = (m[i * system.dim + i] as number) + 1;
  return factor;
}

/**
 * The shared D×D factor `M = (λI + s_e Σ w_i c*_i c_iᵀ + s_p Σ w_j c_j c_jᵀ)(λI + s_e Σ w_i c_i c_iᵀ + s_p Σ w_j c_j c_jᵀ)⁻¹`
 * such that `W_new = W · M` for every projection W whose targets are `v*_i = W c*_i`.
 * Returns a new float64 HostMatrix [D, D]; inputs are not modified.
 * @throws InvalidOptionError for bad options/weights/non-finite keys; ShapeMismatchError when the keys'
 *   shapes disagree; NotPositiveDefiniteError (option `lambda`) when G is singular.
 */
export function anchorEditFactor(keys: AnchorEditKeys, options?: ClosedFormOptions): HostMatrix {
  checkHostMatrix(keys.eraseKeys, 'eraseKeys');
  checkHostMatrix(keys.anchorKeys, 'anchorKeys', keys.eraseKeys.rows, keys.eraseKeys.cols);
  return anchorFactorFromKeySystem(buildKeySystem(keys, options), keys.anchorKeys);
}

/**
 * `W · M`: applies a factor from `anchorEditFactor` to one projection W [out, D]. Float64 result [out, D].
 * @throws ShapeMismatchError when W's width differs from M's size or M is not square.
 */
export function applyEditFactor(weight: HostMatrix, factor: HostMatrix): HostMatrix {
  checkHostMatrix(factor, 'factor');
  if (factor.rows !== factor.cols) {
    throw new ShapeMismatchError({ what: 'factor (must be square D×D)', expected: [factor.rows, factor.rows], received: [factor.rows, factor.cols] });
  }
  checkHostMatrix(weight, 'weight', null, factor.rows);
  return multiply(weight, factor); // [out, D] x [D, D] -> [out, D]
}
