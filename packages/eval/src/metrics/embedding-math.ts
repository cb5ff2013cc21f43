/**
 * Row-wise L2 normalisation of embeddings, shared by the CLIP score and the zero-shot classifier.
 *
 * Notation: x ∈ R^{N×D} rows of embeddings; x̂_n = x_n / max(‖x_n‖₂, ε), ε = 1e-12 (torch `F.normalize`'s
 * default), so a zero row stays zero instead of becoming NaN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '@erase/core';

const EPSILON = 1e-12;

/** Rows divided by their L2 norms: [N, D] → [N, D] float32. Call inside `tf.tidy`; the input is not disposed. */
export function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  const norms = tf.sqrt(tf.sum(tf.square(x), 1, true)); // [N, D] -> [N, 1]
  return tf.div(x, tf.maximum(norms, EPSILON)); // [N, D] / [N, 1] -> [N, D]
}

/**
 * Checks that a tensor is float32 rank 2 with at least one row and column.
 *
 * @throws ShapeMismatchError naming `what` otherwise (a wrong dtype is reported with the shape).
 */
export function assertEmbeddings(x: tf.Tensor, what: string, columns: number | null = null): asserts x is tf.Tensor2D {
  if (x.rank !== 2 || x.dtype !== 'float32' || (x.shape[0] ?? 0) < 1 || (x.shape[1] ?? 0) < 1 || (columns !== null && x.shape[1] !== columns)) {
    throw new ShapeMismatchError({ what: `${what} (float32 [N, D], found ${x.dtype})`, expected: [null, columns], received: x.shape });
  }
}
