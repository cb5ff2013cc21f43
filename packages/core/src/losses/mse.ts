/**
 * Mean-squared error, as torch's `F.mse_loss(input, target)` with `reduction='mean'`: the mean of
 * `(input − target)²` over *all* elements (batch included), a scalar.
 *
 * Every loss in this folder reduces through `meanSquaredError`; shapes must match exactly (torch would
 * broadcast with a warning — we refuse instead, since a silent broadcast is always a bug here).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '../errors/errors';

/**
 * Throws unless `a` and `b` have identical shapes.
 * @throws ShapeMismatchError naming `what`.
 */
export function checkSameShape(what: string, a: tf.Tensor, b: tf.Tensor): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeMismatchError({ what, expected: a.shape, received: b.shape });
  }
}

/**
 * `mean((input − target)²)` over all elements. Gradients flow into both arguments (wrap a target in
 * `stopGradient` to block them). Inputs are not disposed; the caller owns the returned scalar.
 * @param input any shape. @param target the same shape as `input`.
 * @throws ShapeMismatchError when the shapes differ.
 */
export function meanSquaredError(input: tf.Tensor, target: tf.Tensor, what = 'meanSquaredError target'): tf.Scalar {
  checkSameShape(what, input, target);
  return tf.tidy(() => tf.mean(tf.squaredDifference(input, target))); // [...] -> []
}
