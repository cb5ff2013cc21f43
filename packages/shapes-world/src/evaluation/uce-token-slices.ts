/**
 * Which token positions a UCE-2023-style word-level erasure uses (methods.md §1; UCE `train-scripts/
 * train_erase.py::edit_model`, the version MACE, AP and RealEra compare to).
 *
 * Notation (T = the context length, 16 in the world, 77 in SD):
 *   ℓ_e, ℓ_a       real tokens of the erase prompt and of the anchor prompt, `<bos>` and `<eos>` included
 *                  (= the sum of each attention mask)
 *   i_e = ℓ_e − 2  the erase prompt's last word token (its concept word);  i_a = ℓ_a − 2 likewise for the anchor
 *                  (for the anchor " ", which tokenizes to `<bos> <eos>`, i_a = 0: the anchor slice starts at <bos>)
 *   f = max(i_e, i_a),  L = T − f
 *   erase keys  C = E_e[i_e : i_e + L]   (the word, `<eos>` and the `<eos>` padding after it)
 *   anchor keys A = E_a[i_a : i_a + L]   row-aligned with C
 * In UCE's code: `old_emb[i_e : T − max(0, f − i_e)]`, `new_emb[i_a : T − max(0, f − i_a)]` — both of length L.
 * Preserved prompts contribute all T positions (not sliced here).
 */
import { InvalidOptionError } from '@erase/core';

/** The aligned slices of one erase prompt and its anchor. */
export interface UceTokenSlices {
  /** i_e: first erase-key position (the concept word). */
  readonly eraseStart: number;
  /** i_a: first anchor-key position. */
  readonly anchorStart: number;
  /** L = T − max(i_e, i_a): rows of each slice. */
  readonly length: number;
}

/**
 * The UCE 2023 slices for an erase prompt with `eraseLength` real tokens and an anchor with `anchorLength`, both
 * padded to `maxLength` (T).
 * @throws InvalidOptionError when T is not a positive integer or a length is not an integer in [2, T]
 *   (every tokenized prompt holds at least `<bos> <eos>`).
 */
export function uceTokenSlices(eraseLength: number, anchorLength: number, maxLength: number): UceTokenSlices {
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new InvalidOptionError({ option: 'maxLength', expected: 'an integer ≥ 2 (the context length T)', received: maxLength });
  }
  for (const [option, value] of [
    ['eraseLength', eraseLength],
    ['anchorLength', anchorLength],
  ] as const) {
    if (!Number.isInteger(value) || value < 2 || value > maxLength) {
      throw new InvalidOptionError({ option, expected: `an integer in [2, ${maxLength}] (real tokens, <bos> and <eos> included)`, received: value });
    }
  }
  const eraseStart = eraseLength - 2;
  const anchorStart = anchorLength - 2;
  return { eraseStart, anchorStart, length: maxLength - Math.max(eraseStart, anchorStart) };
}

/**
 * Rows `start … start + length − 1` of a row-major [T, D] block, copied into a new [length, D] array.
 * @throws InvalidOptionError when the rows fall outside the block or `states` is not a whole number of rows.
 */
export function sliceRows(states: ArrayLike<number>, dim: number, start: number, length: number): Float64Array {
  if (!Number.isInteger(dim) || dim < 1 || states.length % dim !== 0) {
    throw new InvalidOptionError({ option: 'dim', expected: `a positive divisor of the ${states.length} values`, received: dim });
  }
  const rows = states.length / dim;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || start + length > rows) {
    throw new InvalidOptionError({ option: 'rows', expected: `a range within [0, ${rows})`, received: `start ${start}, length ${length}` });
  }
  const out = new Float64Array(length * dim);
  for (let i = 0; i < length * dim; i++) out[i] = states[start * dim + i] as number;
  return out;
}
