/**
 * Targets of UCE's `tensor` technique (methods.md §1; UCE 2023 `train-scripts/train_erase.py::edit_model`).
 *
 * Notation, for one slice (one erased prompt's token rows aligned with its anchor prompt's rows):
 *   C_old [L, D]  erase keys of the slice,   C* [L, D]  anchor keys,   W [out, D]  the projection
 *   U = C_old Wᵀ / ‖C_old Wᵀ‖_F   [L, out]  (the erased concept's outputs, one unit matrix per slice)
 *   V* = C* Wᵀ − ⟨U, C* Wᵀ⟩_F · U  [L, out]
 *
 * i.e. the anchor outputs with their component along the erased outputs removed. The inner product and
 * the norm run over the *whole slice* (every token row and output coordinate together), exactly as the
 * official code's `u / u.norm()` and `(u * new_embs).sum()`; they are not per token.
 */
import { InvalidOptionError, ShapeMismatchError } from '../errors/errors';
import { multiplyTransposeB } from './dense';
import { checkHostMatrix, type HostMatrix } from './host-matrix';

/**
 * Builds `tensor`-technique targets V* [n, out] (float64) for projection W [out, D].
 * @param weight W [out, D], the *original* projection.
 * @param eraseKeys C_old [n, D]. @param anchorKeys C* [n, D], row-aligned with `eraseKeys`.
 * @param sliceLengths lengths of consecutive slices (one per erased prompt) that partition the n rows;
 *   default: all n rows form one slice.
 * @throws ShapeMismatchError when shapes disagree or the slice lengths do not sum to n;
 *   InvalidOptionError for a non-positive slice length, non-finite entries, or a slice whose
 *   `C_old Wᵀ` is zero (U undefined).
 */
export function uceTensorTargets(
  weight: HostMatrix,
  eraseKeys: HostMatrix,
  anchorKeys: HostMatrix,
  sliceLengths?: readonly number[],
): HostMatrix {
  checkHostMatrix(weight, 'weight');
  checkHostMatrix(eraseKeys, 'eraseKeys', null, weight.cols);
  checkHostMatrix(anchorKeys, 'anchorKeys', eraseKeys.rows, weight.cols);
  const n = eraseKeys.rows;
  const lengths = sliceLengths ?? (n > 0 ? [n] : []);
  let total = 0;
  for (const [index, length] of lengths.entries()) {
    if (!Number.isSafeInteger(length) || length < 1) {
      throw new InvalidOptionError({ option: `sliceLengths[${index}]`, expected: 'a positive integer', received: length });
    }
    total += length;
  }
  if (total !== n) {
    throw new ShapeMismatchError({ what: 'sliceLengths (sum must equal the number of erase keys)', expected: [n], received: [total] });
  }

  const out = weight.rows;
  const erased = multiplyTransposeB(eraseKeys, weight).data; // [n, D] x [out, D]ᵀ -> [n, out]
  const targets = multiplyTransposeB(anchorKeys, weight); // [n, D] x [out, D]ᵀ -> [n, out]
  const v = targets.data as Float64Array;
  let start = 0;
  for (const [index, length] of lengths.entries()) {
    const from = start * out;
    const to = (start + length) * out;
    let normSquared = 0;
    let inner = 0;
    for (let i = from; i < to; i++) {
      const u = erased[i] as number;
      normSquared += u * u;
      inner += u * (v[i] as number);
    }
    if (!(normSquared > 0)) {
      throw new InvalidOptionError({
        option: `eraseKeys (slice ${index})`,
        expected: 'keys whose projection W·c is not all zero',
        received: 'a slice with ‖C_old Wᵀ‖_F = 0',
      });
    }
    // V* = C*Wᵀ − ⟨U, C*Wᵀ⟩ U with U = C_old Wᵀ / ‖·‖  ⇒  coefficient on C_old Wᵀ is ⟨C_old Wᵀ, C*Wᵀ⟩ / ‖C_old Wᵀ‖².
    const coefficient = inner / normSquared;
    for (let i = from; i < to; i++) v[i] = (v[i] as number) - coefficient * (erased[i] as number);
    start += length;
  }
  return targets;
}
