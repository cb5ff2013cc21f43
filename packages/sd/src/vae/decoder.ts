/**
 * `post_quant_conv` followed by the VAE decoder (diffusers 0.25.1 `Decoder`), channels-last.
 *
 * Notation (diffusers names in brackets; c_i = block_out_channels[i], L levels, r_i = c_{L−1−i} reversed):
 *   z' = post_quant_conv(z)                                      1×1        [B, h, w, C_z]
 *   h = conv_in(z')                                              3×3        -> [B, h, w, r_0]
 *   h = MidBlock(h)                                              [mid_block]
 *   for level i: h = ResnetBlock2D^{layers_per_block + 1}(h)    [up_blocks.i.resnets.j]            -> r_i channels
 *                h = conv_{3×3}(nearest×2(h))                    [up_blocks.i.upsamplers.0] (i < L−1)
 *   x = conv_out(SiLU(GN(h)))                                    [conv_norm_out, conv_out]  -> [B, H, W, C_out]
 * with H = h · 2^(L−1), W = w · 2^(L−1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { silu } from '../nn/activations';
import { conv2dModule } from '../nn/conv2d';
import { groupNormModule } from '../nn/norm';
import { upsample2d } from '../nn/resample';
import { resnetBlock2d } from '../nn/resnet-block';
import type { ModuleWeights } from '../nn/weights';
import type { AutoencoderKLConfig } from './config';
import { vaeMidBlock, vaeNormEps } from './mid-block';

/**
 * Latents float32 [B, h, w, C_z] (unscaled) → images [B, H, W, C_out]. Inputs are not validated here (see
 * `AutoencoderKL.decode`). The caller owns the result.
 */
export function vaeDecode(weights: ModuleWeights, config: AutoencoderKLConfig, latents: tf.Tensor4D): tf.Tensor4D {
  const groups = config.normNumGroups;
  const levels = config.blockOutChannels.length;
  return tf.tidy(() => {
    let h = config.usePostQuantConv ? conv2dModule(weights, 'post_quant_conv', latents) : latents; // 1×1: [B, h, w, C_z]
    h = conv2dModule(weights, 'decoder.conv_in', h, { padding: 1 }); // [B, h, w, C_z] -> [B, h, w, r_0]
    h = vaeMidBlock(weights, 'decoder.mid_block', h, groups, config.midBlockAddAttention); // [B, h, w, r_0]
    for (let i = 0; i < levels; i++) {
      for (let j = 0; j <= config.layersPerBlock; j++) {
        h = resnetBlock2d(weights, `decoder.up_blocks.${i}.resnets.${j}`, h, undefined, { groups, eps: vaeNormEps }); // -> [B, ·, ·, r_i]
      }
      if (i < levels - 1) h = upsample2d(weights, `decoder.up_blocks.${i}.upsamplers.0`, h); // [B, H_i, W_i, r_i] -> [B, 2H_i, 2W_i, r_i]
    }
    h = groupNormModule(weights, 'decoder.conv_norm_out', h, groups, vaeNormEps); // [B, H, W, c_0]
    h = silu(h) as tf.Tensor4D; // [B, H, W, c_0]
    return conv2dModule(weights, 'decoder.conv_out', h, { padding: 1 }); // [B, H, W, c_0] -> [B, H, W, C_out]
  });
}
