/**
 * diffusers' `Downsample2D` and `Upsample2D` (models/resnet.py, `use_conv=True`), channels-last.
 *
 * Notation:
 *   Downsample2D: y = conv(x; 3×3, stride 2, padding p). With p = 0 diffusers first pads (left 0, right 1, top 0,
 *                 bottom 1) — the asymmetric "same" padding of the VAE encoder. Keys: `path.conv`.
 *   Upsample2D:   y = conv(nearest(x); 3×3, stride 1, padding 1), nearest = ×2 (or to an explicit size, which the
 *                 UNet asks for when the latent side is not a multiple of 2^#upsamplers). Keys: `path.conv`.
 * Nearest ×2 is written as reshape + concat so its gradient is exact on every backend (tfjs-cpu's
 * ResizeNearestNeighbor gradient is wrong, platform.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dModule } from './conv2d';
import type { ModuleWeights } from './weights';

/**
 * The Downsample2D at `path` with diffusers' `padding` (1 in the UNet, 0 in the VAE encoder).
 * x float32 [B, H, W, C] → [B, ⌈H/2⌉-ish, ·, Cout] exactly as PyTorch sizes it. The caller owns the result.
 */
export function downsample2d(weights: ModuleWeights, path: string, x: tf.Tensor4D, padding: number): tf.Tensor4D {
  const pad = padding === 0 ? ([0, 1, 0, 1] as const) : padding;
  return conv2dModule(weights, `${path}.conv`, x, { stride: 2, padding: pad }); // [B, H, W, C] -> [B, H', W', Cout]
}

/**
 * Nearest-neighbour upsampling, PyTorch `F.interpolate(mode="nearest")`: source index ⌊i · in / out⌋.
 * x float32 [B, H, W, C] → [B, outH, outW, C] (default ×2). The caller owns the result.
 */
export function upsampleNearest(x: tf.Tensor4D, size?: readonly [number, number]): tf.Tensor4D {
  const [, h, w] = x.shape;
  const [outH, outW] = size ?? [2 * h, 2 * w];
  if (outH !== 2 * h || outW !== 2 * w) {
    return tf.image.resizeNearestNeighbor(x, [outH, outW], false, false); // [B, H, W, C] -> [B, outH, outW, C]
  }
  return upsampleNearest2x(x);
}

/**
 * Nearest ×2 with an exact gradient on every backend: forward by concatenation (every pixel copied into its 2×2
 * block); backward by summing each 2×2 block of dy — one reshape and one sum, instead of the concat gradient's
 * slow 5-D splits on wasm (485 ms → a few ms per world-UNet step) and without tfjs-cpu's wrong
 * `resizeNearestNeighbor` gradient.
 */
const upsampleNearest2x = tf.customGrad((x) => {
  const input = x as tf.Tensor4D;
  const [b, h, w, c] = input.shape; // the gradient needs only these shapes: nothing is saved
  const cols = tf.reshape(input, [b, h, w, 1, c]); // [B, H, W, 1, C]
  const wide = tf.reshape(tf.concat([cols, cols], 3), [b, h, 1, 2 * w, c]); // [B, H, W, 2, C] -> [B, H, 1, 2W, C]
  const value = tf.reshape(tf.concat([wide, wide], 2), [b, 2 * h, 2 * w, c]) as tf.Tensor4D; // [B, H, 2, 2W, C] -> [B, 2H, 2W, C]
  const gradFunc = (dy: tf.Tensor): tf.Tensor => {
    const blocks = tf.reshape(dy, [b, h, 2, w, 2, c]); // [B, 2H, 2W, C] -> [B, H, 2, W, 2, C]
    return tf.sum(blocks, [2, 4]); // [B, H, W, C]
  };
  return { value, gradFunc };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * The Upsample2D at `path`: nearest ×2 (or to `size`) then a 3×3 conv. x float32 [B, H, W, C] → [B, 2H, 2W, Cout].
 * The caller owns the result.
 */
export function upsample2d(weights: ModuleWeights, path: string, x: tf.Tensor4D, size?: readonly [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const up = upsampleNearest(x, size); // [B, 2H, 2W, C]
    return conv2dModule(weights, `${path}.conv`, up, { padding: 1 }); // [B, 2H, 2W, C] -> [B, 2H, 2W, Cout]
  });
}
