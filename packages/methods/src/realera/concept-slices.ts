/**
 * RealEra's view of one erased concept: its prompt's encoder output, the erased slice (the concept token and its
 * subsequent tokens, paper §4.1, aligned with the anchor as UCE 2023 does; methods.md §1) and the contexts fed to
 * the UNet, where a mined sample replaces the erased slice.
 *
 * Notation: E_c, E_c* ∈ ℝ^{T×D} the encoder outputs of p_c and p_c*; e = E_c[i : i + L], e* = E_c*[i* : i* + L]
 * (token-selection.ts). A sampled slice s ∈ ℝ^{L×D} (neighbour e + η or beyond sample) gives the context
 * p'_c = E_c with rows i … i+L−1 replaced by s.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '@erase/core';
import { encodedPrompt, type PromptTable } from '../shared/prompt-encoding';
import { uce2023Slices } from '../shared/token-selection';

/** One concept with its anchor, on the host. */
export interface ConceptSlices {
  readonly prompt: string;
  readonly anchor: string;
  /** i: first erased row of E_c. */
  readonly eraseStart: number;
  /** i*: first anchor row of E_c*. */
  readonly anchorStart: number;
  /** L. */
  readonly rows: number;
  /** e, float32 [L, D]. */
  readonly erase: Float32Array;
  /** e*, float32 [L, D]. */
  readonly anchorSlice: Float32Array;
  /** E_c, float32 [T, D]. */
  readonly context: Float32Array;
  /** E_c*, float32 [T, D]. */
  readonly anchorContext: Float32Array;
}

/** Builds the slices of every (concept, anchor) pair from encoded prompts. */
export function conceptSlices(table: PromptTable, concepts: readonly string[], anchors: readonly string[]): ConceptSlices[] {
  return concepts.map((prompt, k) => {
    const anchor = anchors[k] as string;
    const e = encodedPrompt(table, prompt);
    const a = encodedPrompt(table, anchor);
    const s = uce2023Slices(e, a, table.length, table.width);
    return {
      prompt,
      anchor,
      eraseStart: s.eraseStart,
      anchorStart: s.anchorStart,
      rows: s.rows,
      erase: s.erase,
      anchorSlice: s.anchor,
      context: e.hidden,
      anchorContext: a.hidden,
    };
  });
}

/**
 * E_c with its erased slice replaced by `slice` (float32 [L, D]); a new float32 [T, D] array.
 * @throws ShapeMismatchError when the slice is not [L, D].
 */
export function replaceSlice(concept: ConceptSlices, slice: Float32Array, width: number): Float32Array {
  if (slice.length !== concept.rows * width) {
    throw new ShapeMismatchError({ what: `sampled slice of ${JSON.stringify(concept.prompt)}`, expected: [concept.rows, width], received: [slice.length / width, width] });
  }
  const out = Float32Array.from(concept.context); // [T, D]
  out.set(slice, concept.eraseStart * width);
  return out;
}

/** One context [T, D] repeated B times as a float32 tensor [B, T, D]. The caller owns it. */
export function batchContext(context: Float32Array, batch: number, length: number, width: number): tf.Tensor3D {
  const data = new Float32Array(batch * length * width);
  for (let b = 0; b < batch; b++) data.set(context, b * length * width);
  return tf.tensor3d(data, [batch, length, width], 'float32'); // [B, T, D]
}
