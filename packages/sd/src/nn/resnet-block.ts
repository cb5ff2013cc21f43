/**
 * diffusers' `ResnetBlock2D` (models/resnet.py), `resnet_time_scale_shift="default"`, channels-last.
 *
 * Notation:
 *   x [B, H, W, Cin], temb [B, E] (time embedding, optional: the VAE has none)
 *   h = conv1(act(norm1(x)))                                   [B, H, W, Cout]
 *   h = h + time_emb_proj(act(temb))[:, None, None, :]          (when temb is given)
 *   h = conv2(act(norm2(h)))                                   (dropout is the identity: inference / p = 0)
 *   out = (shortcut(x) + h) / output_scale_factor,  shortcut = conv_shortcut (1×1) when Cin ≠ Cout, else identity
 * Keys: norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut (diffusers names).
 */
import * as tf from '@tensorflow/tfjs-core';
import { silu } from './activations';
import { conv2dModule } from './conv2d';
import { linearModule } from './linear';
import { groupNormModule } from './norm';
import { addConv2dShapes, addLinearShapes, addNormShapes } from './weights';
import type { ModuleWeights, WeightShapes } from './weights';

/** Options of `resnetBlock2d`. */
export interface ResnetBlock2dOptions {
  /** GroupNorm groups (diffusers `resnet_groups`, 32 in SD). */
  readonly groups: number;
  /** GroupNorm eps (UNet: `norm_eps` 1e-5; VAE: 1e-6). */
  readonly eps: number;
  /** Groups of norm2; default `groups`. */
  readonly groupsOut?: number;
  /** Divides the output (UNet mid block: `mid_block_scale_factor`); default 1. */
  readonly outputScaleFactor?: number;
  /** Non-linearity; default SiLU. */
  readonly act?: (x: tf.Tensor) => tf.Tensor;
}

/**
 * The ResnetBlock2D at `path`. x float32 [B, H, W, Cin], temb [B, E] or undefined → [B, H, W, Cout].
 * The caller owns the result; inputs are not disposed.
 * @throws WeightKeysError when a weight is missing (e.g. `time_emb_proj` when temb is given)
 */
export function resnetBlock2d(weights: ModuleWeights, path: string, x: tf.Tensor4D, temb: tf.Tensor2D | undefined, options: ResnetBlock2dOptions): tf.Tensor4D {
  const act = options.act ?? silu;
  return tf.tidy(() => {
    let h = groupNormModule(weights, `${path}.norm1`, x, options.groups, options.eps); // [B, H, W, Cin]
    h = act(h) as tf.Tensor4D;
    h = conv2dModule(weights, `${path}.conv1`, h, { padding: 1 }); // [B, H, W, Cin] -> [B, H, W, Cout]
    if (temb) {
      const t = linearModule(weights, `${path}.time_emb_proj`, act(temb)); // [B, E] -> [B, Cout]
      const [b, c] = t.shape as [number, number];
      h = tf.add(h, tf.reshape(t, [b, 1, 1, c])); // [B, H, W, Cout] + [B, 1, 1, Cout]
    }
    h = groupNormModule(weights, `${path}.norm2`, h, options.groupsOut ?? options.groups, options.eps); // [B, H, W, Cout]
    h = act(h) as tf.Tensor4D;
    h = conv2dModule(weights, `${path}.conv2`, h, { padding: 1 }); // [B, H, W, Cout]
    const shortcut = weights.find(`${path}.conv_shortcut.weight`) ? conv2dModule(weights, `${path}.conv_shortcut`, x) : x; // [B, H, W, Cout]
    let out: tf.Tensor = tf.add(shortcut, h); // [B, H, W, Cout]
    const factor = options.outputScaleFactor ?? 1;
    if (factor !== 1) out = tf.div(out, factor);
    return out as tf.Tensor4D;
  });
}

/**
 * Adds the PyTorch-layout shapes of a ResnetBlock2D at `path` (3×3 convs, 1×1 `conv_shortcut` when Cin ≠ Cout,
 * `time_emb_proj` [Cout, E] when `tembChannels` is given).
 */
export function addResnetBlock2dShapes(shapes: WeightShapes, path: string, inChannels: number, outChannels: number, tembChannels?: number): void {
  addNormShapes(shapes, `${path}.norm1`, inChannels);
  addConv2dShapes(shapes, `${path}.conv1`, inChannels, outChannels, 3);
  if (tembChannels !== undefined) addLinearShapes(shapes, `${path}.time_emb_proj`, tembChannels, outChannels);
  addNormShapes(shapes, `${path}.norm2`, outChannels);
  addConv2dShapes(shapes, `${path}.conv2`, outChannels, outChannels, 3);
  if (inChannels !== outChannels) addConv2dShapes(shapes, `${path}.conv_shortcut`, inChannels, outChannels, 1);
}
