/**
 * Group normalisation (channels-last) and layer normalisation, as PyTorch computes them (biased variance, eps inside
 * the square root, affine per channel).
 *
 * Notation:
 *   x [B, H, W, C] (groupNorm) or [..., C] (layerNorm); G groups of C/G channels each.
 *   μ, σ² the mean and biased variance over (H, W, C/G) per (batch, group) — or over C for layerNorm.
 *   y = (x − μ) / sqrt(σ² + eps) · γ + β,   γ = `weight` [C], β = `bias` [C].
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import type { ModuleWeights } from './weights';

/**
 * GroupNorm over an NHWC tensor. x float32 [B, H, W, C] (C divisible by `groups`), gamma/beta [C] → [B, H, W, C].
 * The caller owns the result. @throws InvalidOptionError when C is not divisible by `groups`.
 */
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor | undefined, beta: tf.Tensor | undefined, groups: number, eps: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (c % groups !== 0) {
    throw new InvalidOptionError({ option: 'groups', expected: `a divisor of the channel count ${c}`, received: groups });
  }
  return tf.tidy(() => {
    const grouped = tf.reshape(x, [b, h * w, groups, c / groups]); // [B, H, W, C] -> [B, HW, G, C/G]
    const { mean, variance } = tf.moments(grouped, [1, 3], true); // [B, 1, G, 1] each
    const inv = tf.rsqrt(tf.add(variance, eps)); // [B, 1, G, 1]
    const normed = tf.mul(tf.sub(grouped, mean), inv); // [B, HW, G, C/G]
    let y: tf.Tensor = tf.reshape(normed, [b, h, w, c]); // [B, HW, G, C/G] -> [B, H, W, C]
    if (gamma) y = tf.mul(y, gamma); // [B, H, W, C] * [C]
    if (beta) y = tf.add(y, beta); // [B, H, W, C] + [C]
    return y as tf.Tensor4D;
  });
}

/** LayerNorm over the last axis. x float32 [..., C], gamma/beta [C] → [..., C]. The caller owns the result. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | undefined, beta: tf.Tensor | undefined, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true); // [..., 1] each
    let y: tf.Tensor = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))); // [..., C]
    if (gamma) y = tf.mul(y, gamma); // [..., C] * [C]
    if (beta) y = tf.add(y, beta); // [..., C] + [C]
    return y;
  });
}

/** The GroupNorm module at `path` (`path.weight`, `path.bias` [C], both optional). x [B, H, W, C] → [B, H, W, C]. */
export function groupNormModule(weights: ModuleWeights, path: string, x: tf.Tensor4D, groups: number, eps: number): tf.Tensor4D {
  return groupNorm(x, weights.find(`${path}.weight`), weights.find(`${path}.bias`), groups, eps);
}

/** The LayerNorm module at `path` (`path.weight`, `path.bias` [C], both optional). x [..., C] → [..., C]. */
export function layerNormModule(weights: ModuleWeights, path: string, x: tf.Tensor, eps: number): tf.Tensor {
  return layerNorm(x, weights.find(`${path}.weight`), weights.find(`${path}.bias`), eps);
}
