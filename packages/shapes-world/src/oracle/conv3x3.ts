/**
 * A 3×3, stride-1, same-padding convolution with its own gradient, fast on every tfjs backend.
 *
 * Why: tfjs-cpu's `Conv2DBackpropFilter` is a naive loop (~3 s of a 3.4 s training step of the oracle at batch 16,
 * 12 px), and tfjs-wasm has no such kernel at all (platform.md). Both gradients are written as forward convolutions
 * (platform.md, "Training on wasm"):
 *
 * Notation: x ∈ ℝ^{B×H×W×Ci}, K ∈ ℝ^{3×3×Ci×Co}, y = conv(x, K) with zero padding 1, upstream gradient
 * g = ∂L/∂y ∈ ℝ^{B×H×W×Co}.
 *   ∂L/∂K[a, b, i, o] = Σ_{n,p,q} x̄[n, p + a, q + b, i] · g[n, p, q, o]          (x̄ = x padded by 1)
 *     = conv(xᵀ, gᵀ) with the batch and channel axes swapped: xᵀ = x as [Ci, H, W, B] (input),
 *       gᵀ = g as [H, W, B, Co] (filter), padding 1 → [Ci, 3, 3, Co] → [3, 3, Ci, Co].
 *   ∂L/∂x = conv(g, K̃) with K̃[a, b, o, i] = K[2 − a, 2 − b, i, o] (spatially flipped, in/out swapped), padding 1.
 */
import * as tf from '@tensorflow/tfjs-core';

const convWithGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, kernel, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([x, kernel]);
  return {
    value: tf.conv2d(x, kernel, 1, 'same'), // [B, H, W, Ci] * [3, 3, Ci, Co] -> [B, H, W, Co]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [input, k] = saved as [tf.Tensor4D, tf.Tensor4D];
      const g = dy as tf.Tensor4D;
      const flipped = tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [3, 3, Ci, Co] -> [3, 3, Co, Ci]
      const dx = tf.conv2d(g, flipped, 1, 'same'); // [B, H, W, Co] * [3, 3, Co, Ci] -> [B, H, W, Ci]
      // padded explicitly: tfjs's numeric `pad` sizes the output from the filter height alone (wrong when H ≠ W)
      const padded = tf.pad(input, [[0, 0], [1, 1], [1, 1], [0, 0]]); // [B, H, W, Ci] -> [B, H+2, W+2, Ci]
      const inputT = tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D; // -> [Ci, H+2, W+2, B]
      const gT = tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D; // [B, H, W, Co] -> [H, W, B, Co]
      const dkT = tf.conv2d(inputT, gT, 1, 'valid'); // [Ci, H+2, W+2, B] * [H, W, B, Co] -> [Ci, 3, 3, Co]
      const dk = tf.transpose(dkT, [1, 2, 0, 3]); // [Ci, 3, 3, Co] -> [3, 3, Ci, Co]
      return [dx, dk];
    },
  };
});

/**
 * y = conv(x, K), 3×3 kernel, stride 1, zero padding 1 (tfjs 'same'), differentiable on cpu, wasm and any backend
 * with a forward Conv2D. `x` float32 [B, H, W, Ci], `kernel` [3, 3, Ci, Co]; neither is disposed.
 * @returns float32 [B, H, W, Co]; the caller owns it.
 */
export function conv3x3(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  return convWithGradient(x, kernel) as tf.Tensor4D;
}
