/**
 * Which token vectors of a prompt's encoder output enter the closed form (methods.md §1), for the two
 * official UCE versions; RealEra perturbs and edits the UCE 2023 slice (paper §4.1: "the erasure concept
 * token and its subsequent tokens").
 *
 * Notation: E, E* ∈ ℝ^{T×D} the encoder outputs of an erase prompt p and its anchor p*; i = Σ mask − 2 the
 * index of a prompt's last word token (`<bos>` is index 0, so `''` and `' '` give i = 0, their `<bos>`).
 *
 * UCE 2023 (`train-scripts/train_erase.py::edit_model`):
 *   i_old = i(p), i_new = i(p*), L = T − max(i_old, i_new)
 *   erase keys  C  = E [i_old : i_old + L]   [L, D]   (last word token, `<eos>` and the padding after it)
 *   anchor keys C* = E*[i_new : i_new + L]   [L, D]   (row-aligned with C)
 * UCE 2025 (`trainscripts/uce_sd_erase.py::UCE`): one row per prompt, E[i].
 */
import { ShapeMismatchError } from '@erase/core';
import type { EncodedPrompt } from './prompt-encoding';

/** An erase slice and its row-aligned anchor slice. */
export interface AlignedSlices {
  /** i_old: first row of the erase slice in E. */
  readonly eraseStart: number;
  /** i_new: first row of the anchor slice in E*. */
  readonly anchorStart: number;
  /** L = T − max(i_old, i_new). */
  readonly rows: number;
  /** C, float32 [L, D] row-major (a copy). */
  readonly erase: Float32Array;
  /** C*, float32 [L, D] row-major (a copy). */
  readonly anchor: Float32Array;
}

/** i = Σ mask − 2, the row of the prompt's last word token (0 = `<bos>` for an empty prompt). */
export function lastWordTokenIndex(prompt: EncodedPrompt): number {
  return prompt.tokenCount - 2;
}

/**
 * UCE 2023 alignment of an erase prompt with its anchor prompt (see the notation block).
 * @param length T. @param width D.
 * @throws ShapeMismatchError when an encoded prompt is not [T, D].
 */
export function uce2023Slices(erase: EncodedPrompt, anchor: EncodedPrompt, length: number, width: number): AlignedSlices {
  checkEncoded(erase, length, width);
  checkEncoded(anchor, length, width);
  const eraseStart = lastWordTokenIndex(erase); // i_old
  const anchorStart = lastWordTokenIndex(anchor); // i_new
  const rows = length - Math.max(eraseStart, anchorStart); // L
  return {
    eraseStart,
    anchorStart,
    rows,
    erase: erase.hidden.slice(eraseStart * width, (eraseStart + rows) * width), // [L, D]
    anchor: anchor.hidden.slice(anchorStart * width, (anchorStart + rows) * width), // [L, D]
  };
}

/**
 * UCE 2025 selection: the last word token's vector E[i], float32 [D] (a copy).
 * @throws ShapeMismatchError when the encoded prompt is not [T, D].
 */
export function lastWordTokenVector(prompt: EncodedPrompt, length: number, width: number): Float32Array {
  checkEncoded(prompt, length, width);
  const i = lastWordTokenIndex(prompt);
  return prompt.hidden.slice(i * width, (i + 1) * width); // [D]
}

function checkEncoded(prompt: EncodedPrompt, length: number, width: number): void {
  if (prompt.hidden.length !== length * width) {
    throw new ShapeMismatchError({ what: `encoder output of ${JSON.stringify(prompt.prompt)}`, expected: [length, width], received: [prompt.hidden.length / width, width] });
  }
}

/** Concatenates row-major float32 blocks of the same width into one float32 array. */
export function concatRows(blocks: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const block of blocks) {
    out.set(block, offset);
    offset += block.length;
  }
  return out;
}
