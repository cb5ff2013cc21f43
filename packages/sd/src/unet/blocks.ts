/**
 * The UNet's down, mid and up blocks (diffusers `CrossAttnDownBlock2D`/`DownBlock2D`, `UNetMidBlock2DCrossAttn`,
 * `CrossAttnUpBlock2D`/`UpBlock2D`), channels-last.
 *
 * Notation: h [B, H, W, C] feature map, temb [B, E] time embedding, ctx [B, T, D] context.
 *   down: for each layer: h = resnet(h, temb); h = transformer(h, ctx) (cross-attn blocks); skips += h;
 *         then h = downsample(h); skips += h.
 *   mid:  h = resnet0(h, temb); h = transformer(h, ctx); h = resnet1(h, temb)   (all / mid_block_scale_factor)
 *   up:   for each layer: h = cat(h, skips.pop()) along channels; h = resnet(h, temb); h = transformer(h, ctx);
 *         then h = upsample(h) (to the next skip's size when the latent side is not a multiple of 2^#ups).
 */
import * as tf from '@tensorflow/tfjs-core';
import { downsample2d, upsample2d } from '../nn/resample';
import { resnetBlock2d } from '../nn/resnet-block';
import type { ModuleWeights } from '../nn/weights';
import type { BlockPlan } from './layout';
import { transformer2d } from './transformer-2d';

/** Settings shared by every block. */
export interface BlockSettings {
  readonly groups: number;
  readonly eps: number;
  /** resnet_out_scale_factor (down/up blocks). */
  readonly resnetOutScaleFactor: number;
  /** mid_block_scale_factor. */
  readonly midBlockScaleFactor: number;
  readonly downsamplePadding: number;
}

/**
 * A down block. h float32 [B, H, W, Cin] → `{ h: [B, H', W', C], skips }` where `skips` are the residual outputs
 * (one per resnet, plus the downsampled map). All returned tensors are new; the caller owns them.
 */
export function downBlock(weights: ModuleWeights, block: BlockPlan, h: tf.Tensor4D, temb: tf.Tensor2D, context: tf.Tensor3D, s: BlockSettings): { h: tf.Tensor4D; skips: tf.Tensor4D[] } {
  return tf.tidy(() => {
    const skips: tf.Tensor4D[] = [];
    let x = h;
    block.resnets.forEach((resnet, j) => {
      x = resnetBlock2d(weights, resnet.path, x, temb, { groups: s.groups, eps: s.eps, outputScaleFactor: s.resnetOutScaleFactor }); // [B, H, W, C]
      const attention = block.attentions[j];
      if (attention) x = transformer2d(weights, attention, x, context); // [B, H, W, C]
      skips.push(x);
    });
    if (block.sampler) {
      x = downsample2d(weights, block.sampler.path, x, s.downsamplePadding); // [B, H, W, C] -> [B, H/2, W/2, C]
      skips.push(x);
    }
    return { h: x, skips };
  });
}

/** The mid block. h float32 [B, H, W, C] → [B, H, W, C]; the caller owns the result. */
export function midBlock(weights: ModuleWeights, block: BlockPlan, h: tf.Tensor4D, temb: tf.Tensor2D, context: tf.Tensor3D, s: BlockSettings): tf.Tensor4D {
  const options = { groups: s.groups, eps: s.eps, outputScaleFactor: s.midBlockScaleFactor };
  return tf.tidy(() => {
    let x = resnetBlock2d(weights, (block.resnets[0] as { path: string }).path, h, temb, options); // [B, H, W, C]
    block.attentions.forEach((attention, j) => {
      x = transformer2d(weights, attention, x, context); // [B, H, W, C]
      x = resnetBlock2d(weights, (block.resnets[j + 1] as { path: string }).path, x, temb, options); // [B, H, W, C]
    });
    return x;
  });
}

/**
 * An up block. h float32 [B, H, W, Cprev]; `skips` are popped from the end (one per resnet) and not disposed.
 * `upsampleSize` forces the upsampler's output size ([H, W]). Returns a new [B, H', W', C] the caller owns.
 */
export function upBlock(
  weights: ModuleWeights,
  block: BlockPlan,
  h: tf.Tensor4D,
  skips: tf.Tensor4D[],
  temb: tf.Tensor2D,
  context: tf.Tensor3D,
  s: BlockSettings,
  upsampleSize?: readonly [number, number],
): tf.Tensor4D {
  return tf.tidy(() => {
    let x = h;
    block.resnets.forEach((resnet, j) => {
      const skip = skips.pop() as tf.Tensor4D; // [B, H, W, Cskip]
      const joined = tf.concat([x, skip], 3); // [B, H, W, C] ++ [B, H, W, Cskip] -> [B, H, W, C + Cskip]
      x = resnetBlock2d(weights, resnet.path, joined, temb, { groups: s.groups, eps: s.eps, outputScaleFactor: s.resnetOutScaleFactor }); // [B, H, W, Cout]
      const attention = block.attentions[j];
      if (attention) x = transformer2d(weights, attention, x, context); // [B, H, W, Cout]
    });
    if (block.sampler) x = upsample2d(weights, block.sampler.path, x, upsampleSize); // [B, H, W, C] -> [B, 2H, 2W, C]
    return x;
  });
}
