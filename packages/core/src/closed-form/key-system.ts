/**
 * The closed-form cross-attention edit (methods.md §1; UCE, Gandikota et al., WACV 2024, §3;
 * RealEra §4.2 stage 1; MACE's closed-form refinement), solved once per set of keys and applied to any number of projections.
 *
 * Notation (rows are token vectors, all row-major):
 *   D            text-encoder width (`in` of to_k / to_v; 768 for SD 1.x)
 *   W  [out, D]  a cross-attention projection `attn2.to_k` / `attn2.to_v`, diffusers layout
 *   C  [n, D]    keys to erase c_i (rows), with weights w_i ≥ 0 (default 1)
 *   V  [n, out]  their targets v*_i in W's output space
 *   P  [m, D]    keys to preserve c_j (rows), with weights w_j ≥ 0 (default 1)
 *   λ, s_e, s_p  `lambda`, `eraseScale`, `preserveScale`
 *
 *   W_new = (λW + s_e Σ_i w_i v*_i c_iᵀ + s_p Σ_j w_j (W c_j) c_jᵀ) · G⁻¹,
 *   G     = λI + s_e Σ_i w_i c_i c_iᵀ + s_p Σ_j w_j c_j c_jᵀ                     (D×D, symmetric)
 *
 * the minimiser of λ‖W' − W‖² + s_e Σ w_i ‖W'c_i − v*_i‖² + s_p Σ w_j ‖W'c_j − W c_j‖².
 * Since the numerator equals `W G + s_e Σ_i w_i (v*_i − W c_i) c_iᵀ`, the same edit reads
 *
 *   W_new = W + Eᵀ K,   E = V − C Wᵀ  [n, out] (residuals),   K = s_e diag(w) C G⁻¹  [n, D].
 *
 * G and K depend only on the keys, never on W: one Cholesky factorization of G (float64, after making it
 * exactly symmetric) serves every projection, and no inverse is ever formed (K solves G Kᵀ = s_e (w∘C)ᵀ).
 * Per projection the cost is O(out · n · D) instead of O(out · D²).
 */
import { InvalidOptionError, ShapeMismatchError } from '../errors/errors';
import {
  addWeightedGramUpper,
  choleskyFactor,
  choleskySolveInPlace,
  mirrorUpper,
  multiplyTransposeA,
  multiplyTransposeB,
} from './dense';
import { checkHostMatrix, resolveRowWeights, type HostMatrix } from './host-matrix';

/** Weights of the closed-form objective. */
export interface ClosedFormOptions {
  /** λ ≥ 0, the ridge that keeps W near its original value. Default 0.5 (UCE 2023 and 2025). */
  readonly lambda?: number;
  /** s_e ≥ 0, the weight of the erase (key → target) terms. Default 1. */
  readonly eraseScale?: number;
  /**
   * s_p ≥ 0, the weight of the preserve terms. Default 1 (UCE 2025). UCE 2023 uses
   * `max(0.1, 1 / numberOfPreservedPrompts)`; callers that reproduce it pass their own.
   */
  readonly preserveScale?: number;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedClosedFormOptions {
  readonly lambda: number;
  readonly eraseScale: number;
  readonly preserveScale: number;
}

/** Defaults of `ClosedFormOptions`: λ = 0.5, s_e = 1, s_p = 1. */
export const closedFormDefaults: ResolvedClosedFormOptions = Object.freeze({
  lambda: 0.5,
  eraseScale: 1,
  preserveScale: 1,
});

/**
 * Validates `options` and fills in defaults.
 * @throws InvalidOptionError naming `lambda`, `eraseScale` or `preserveScale` when one is not a finite number ≥ 0.
 */
export function resolveClosedFormOptions(options: ClosedFormOptions = {}): ResolvedClosedFormOptions {
  const pick = (name: keyof ClosedFormOptions): number => {
    const value = options[name] ?? closedFormDefaults[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError({ option: name, expected: 'a finite number >= 0', received: value });
    }
    return value;
  };
  return { lambda: pick('lambda'), eraseScale: pick('eraseScale'), preserveScale: pick('preserveScale') };
}

/** The keys of one edit: what to erase and what to preserve, with optional per-row weights. */
export interface EditKeys {
  /** C [n, D]: keys to erase, one token vector per row. */
  readonly eraseKeys: HostMatrix;
  /** P [m, D]: keys to preserve. Default: none. */
  readonly preserveKeys?: HostMatrix;
  /** w_i ≥ 0, one per erase key. Default: all 1. */
  readonly eraseWeights?: ArrayLike<number>;
  /** w_j ≥ 0, one per preserve key. Default: all 1. */
  readonly preserveWeights?: ArrayLike<number>;
}

/** The factored system of one set of keys, reusable for every projection (see the file's notation). */
export interface KeySystem {
  /** D. */
  readonly dim: number;
  /** n, the number of erase keys. */
  readonly eraseCount: number;
  /** m, the number of preserve keys. */
  readonly preserveCount: number;
  /** C [n, D], as given. */
  readonly eraseKeys: HostMatrix;
  /** K = s_e diag(w) C G⁻¹ [n, D], float64. */
  readonly gain: HostMatrix;
  readonly options: ResolvedClosedFormOptions;
}

/**
 * Builds G = λI + s_e Σ w_i c_i c_iᵀ + s_p Σ w_j c_j c_jᵀ, factors it (Cholesky, float64) and solves for
 * K = s_e diag(w) C G⁻¹. Cost O((n + m) D² + D³).
 * @throws InvalidOptionError for bad options, weights or non-finite keys; ShapeMismatchError when the
 *   keys' widths differ or D = 0; NotPositiveDefiniteError (option `lambda`) when G is singular, e.g.
 *   λ = 0 with fewer keys than D.
 */
export function buildKeySystem(keys: EditKeys, options?: ClosedFormOptions): KeySystem {
  const resolved = resolveClosedFormOptions(options);
  checkHostMatrix(keys.eraseKeys, 'eraseKeys');
  const dim = keys.eraseKeys.cols;
  if (dim < 1) throw new ShapeMismatchError({ what: 'eraseKeys (width D must be >= 1)', expected: [null, 1], received: [keys.eraseKeys.rows, dim] });
  const preserve = keys.preserveKeys ?? { rows: 0, cols: dim, data: new Float64Array(0) };
  checkHostMatrix(preserve, 'preserveKeys', null, dim);
  const eraseWeights = resolveRowWeights(keys.eraseWeights, keys.eraseKeys.rows, 'eraseWeights');
  const preserveWeights = resolveRowWeights(keys.preserveWeights, preserve.rows, 'preserveWeights');

  const gram = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) gram[i * dim + i] = resolved.lambda;
  addWeightedGramUpper(gram, keys.eraseKeys, eraseWeights, resolved.eraseScale);
  addWeightedGramUpper(gram, preserve, preserveWeights, resolved.preserveScale);
  mirrorUpper(gram, dim);
  const lower = choleskyFactor(
    gram,
    dim,
    `The closed-form Gram matrix λI + s_e·Σ w c cᵀ + s_p·Σ w c cᵀ (${dim}×${dim}, ` +
      `${keys.eraseKeys.rows} erase and ${preserve.rows} preserve keys)`,
    'lambda',
    resolved.lambda,
  );

  // Right-hand side s_e (w∘C)ᵀ [D, n]; the solve turns it into Kᵀ = G⁻¹ s_e (w∘C)ᵀ.
  const n = keys.eraseKeys.rows;
  const rhs = new Float64Array(dim * n);
  const c = keys.eraseKeys.data;
  for (let i = 0; i < n; i++) {
    const s = resolved.eraseScale * (eraseWeights[i] as number);
    for (let d = 0; d < dim; d++) rhs[d * n + i] = s * (c[i * dim + d] as number);
  }
  choleskySolveInPlace(lower, dim, rhs, n);
  const gain = new Float64Array(n * dim);
  for (let d = 0; d < dim; d++) {
    for (let i = 0; i < n; i++) gain[i * dim + d] = rhs[d * n + i] as number;
  }
  return {
    dim,
    eraseCount: n,
    preserveCount: preserve.rows,
    eraseKeys: keys.eraseKeys,
    gain: { rows: n, cols: dim, data: gain },
    options: resolved,
  };
}

/**
 * Applies the update `W + Eᵀ K` given the residuals E [n, out] (`E = V − C Wᵀ`). Float64 result [out, D].
 * Low level: `editWithKeySystem` computes E for you.
 */
export function applyResidualUpdate(system: KeySystem, weight: HostMatrix, residuals: HostMatrix): HostMatrix {
  const delta = multiplyTransposeA(residuals, system.gain); // [n, out]ᵀ x [n, D] -> [out, D]
  const out = delta.data as Float64Array;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (weight.data[i] as number);
  return delta;
}

/**
 * The edited projection W_new [out, D] (float64) for targets V [n, out] (row i is v*_i = the desired W c_i).
 * Inputs are not modified.
 * @throws InvalidOptionError for non-finite entries; ShapeMismatchError when W is not [out, D] or V not [n, out].
 */
export function editWithKeySystem(system: KeySystem, weight: HostMatrix, targets: HostMatrix): HostMatrix {
  checkHostMatrix(weight, 'weight', null, system.dim);
  checkHostMatrix(targets, 'targets', system.eraseCount, weight.rows);
  const residuals = erasureResiduals(system.eraseKeys, weight, targets);
  return applyResidualUpdate(system, weight, residuals);
}

/** E = V − C Wᵀ [n, out]: how far each erase key's projection is from its target. */
export function erasureResiduals(eraseKeys: HostMatrix, weight: HostMatrix, targets: HostMatrix): HostMatrix {
  const projected = multiplyTransposeB(eraseKeys, weight); // [n, D] x [out, D]ᵀ -> [n, out]
  const e = projected.data as Float64Array;
  for (let i = 0; i < e.length; i++) e[i] = (targets.data[i] as number) - (e[i] as number);
  return projected;
}

/** General closed-form input: one projection, its keys and its targets. */
export interface ClosedFormEditInput extends EditKeys {
  /** W [out, D]. */
  readonly weight: HostMatrix;
  /** V [n, out]: target v*_i of each erase key c_i. */
  readonly targets: HostMatrix;
}

/**
 * The closed-form edit of one projection (general form, any targets):
 * `W_new = (λW + s_e Σ w_i v*_i c_iᵀ + s_p Σ w_j (W c_j) c_jᵀ)(λI + s_e Σ w_i c_i c_iᵀ + s_p Σ w_j c_j c_jᵀ)⁻¹`.
 * Returns a new float64 HostMatrix [out, D]; inputs are not modified. For many projections sharing keys,
 * build the system once with `buildKeySystem` and call `editWithKeySystem` per projection.
 * @throws see `buildKeySystem` and `editWithKeySystem`.
 */
export function closedFormEdit(input: ClosedFormEditInput, options?: ClosedFormOptions): HostMatrix {
  checkHostMatrix(input.weight, 'weight');
  checkHostMatrix(input.eraseKeys, 'eraseKeys', null, input.weight.cols);
  const system = buildKeySystem(input, options);
  return editWithKeySystem(system, input.weight, input.targets);
}
