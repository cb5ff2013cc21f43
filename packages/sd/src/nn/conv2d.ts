/**
 * 2-D convolution, channels-last (NHWC), with PyTorch's padding semantics.
 *
 * Notation:
 *   x  [B, H, W, Cin]          input (PyTorch's [B, Cin, H, W] transposed once at the I/O boundary)
 *   K  [kh, kw, Cin, Cout]     kernel, tfjs layout (PyTorch [Cout, Cin, kh, kw], converted at load)
 *   b  [Cout]                  optional bias
 *   padding p: a number pads p zeros on every side (PyTorch `Conv2d(padding=p)`); a 4-tuple
 *   [top, bottom, left, right] pads asymmetrically (diffusers' `Downsample2D(padding=0)` = F.pad(x, (0, 1, 0, 1))).
 *   Output H' = floor((H + top + bottom − kh) / stride) + 1, as in PyTorch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedError } from '@erase/core';
import { loraDelta } from './linear';
import type { ModuleWeights } from './weights';

/** PyTorch-style padding: symmetric `p`, or explicit `[top, bottom, left, right]`. */
export type Conv2dPadding = number | readonly [number, number, number, number];

/** Options of `conv2d`. */
export interface Conv2dOptions {
  /** Default 1. */
  readonly stride?: number;
  /** Default 0. */
  readonly padding?: Conv2dPadding;
}

/**
 * NHWC convolution with PyTorch padding. x float32 [B, H, W, Cin], kernel [kh, kw, Cin, Cout], bias [Cout]
 * → [B, H', W', Cout]. The caller owns the result; inputs are not disposed.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor, bias?: tf.Tensor, options: Conv2dOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    const stride = options.stride ?? 1;
    const p = options.padding ?? 0;
    const [top, bottom, left, right] = typeof p === 'number' ? [p, p, p, p] : p;
    const pad: 'valid' | [[number, number], [number, number], [number, number], [number, number]] =
      top === 0 && bottom === 0 && left === 0 && right === 0 ? 'valid' : [[0, 0], [top, bottom], [left, right], [0, 0]];
    const y = tf.conv2d(x, kernel as tf.Tensor4D, stride, pad); // [B, H, W, Cin] * [kh, kw, Cin, Cout] -> [B, H', W', Cout]
    return bias ? tf.add(y, bias) : y; // [B, H', W', Cout] + [Cout]
  });
}

/**
 * The Conv2d module at `path` (`path.weight` [kh, kw, Cin, Cout], optional `path.bias`). x [B, H, W, Cin] → [B, H', W', Cout].
 * A 1×1, stride-1, unpadded conv is a Linear over channels, so an adapter from `weights.linearAdapter(path)` (kohya-style
 * LoRA on SD 1.x's `proj_in`/`proj_out`) is applied as `+ s · (x Aᵀ) Bᵀ` per pixel.
 * @throws WeightKeysError when `path.weight` is absent; UnsupportedError for an adapter on any other conv
 */
export function conv2dModule(weights: ModuleWeights, path: string, x: tf.Tensor4D, options: Conv2dOptions = {}): tf.Tensor4D {
  const kernel = weights.get(`${path}.weight`);
  const adapter = weights.linearAdapter?.(path);
  if (!adapter) return conv2d(x, kernel, weights.find(`${path}.bias`), options);
  const p = options.padding ?? 0;
  if (kernel.shape[0] !== 1 || kernel.shape[1] !== 1 || (options.stride ?? 1) !== 1 || (typeof p === 'number' ? p !== 0 : p.some((v) => v !== 0))) {
    throw new UnsupportedError(`LoRA on ${path}: only 1×1, stride-1, unpadded convolutions can carry a low-rank adapter.`);
  }
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const y = conv2d(x, kernel, weights.find(`${path}.bias`), options); // [B, H, W, Cout]
    const delta = loraDelta(tf.reshape(x, [b * h * w, c]), adapter); // [BHW, Cin] -> [BHW, Cout]
    return tf.add(y, tf.reshape(delta, y.shape)) as tf.Tensor4D; // [B, H, W, Cout]
  });
}
