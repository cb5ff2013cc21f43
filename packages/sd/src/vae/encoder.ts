/**
 * The VAE encoder (diffusers 0.25.1 `Encoder`, `double_z=True`) followed by `quant_conv`, channels-last.
 *
 * Notation (diffusers names in brackets; c_i = block_out_channels[i], L levels, C_z latent channels):
 *   h = conv_in(x)                                               3×3        [B, H, W, 3] -> [B, H, W, c_0]
 *   for level i: h = ResnetBlock2D^{layers_per_block}(h)        [down_blocks.i.resnets.j]          -> c_i channels
 *                h = conv_{3×3, stride 2}(pad(h, bottom 1, right 1))   [down_blocks.i.downsamplers.0] (i < L−1)
 *   h = MidBlock(h)                                              [mid_block]
 *   h = conv_out(SiLU(GN(h)))                                    [conv_norm_out, conv_out]  -> [B, h, w, 2·C_z]
 *   moments = quant_conv(h)                                      1×1        [B, h, w, 2·C_z] = [mean | logvar]
 * with h = H / 2^(L−1), w = W / 2^(L−1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { silu } from '../nn/activations';
import { conv2dModule } from '../nn/conv2d';
import { groupNormModule } from '../nn/norm';
import { downsample2d } from '../nn/resample';
import { resnetBlock2d } from '../nn/resnet-block';
import type { ModuleWeights } from '../nn/weights';
import type { AutoencoderKLConfig } from './config';
import { vaeMidBlock, vaeNormEps } from './mid-block';

/**
 * Images float32 [B, H, W, C_in] → posterior moments [B, h, w, 2·C_z] (encoder, then `quant_conv` when the config
 * has it). Inputs are not validated here (see `AutoencoderKL.encodeMoments`). The caller owns the result.
 */
export function vaeEncode(weights: ModuleWeights, config: AutoencoderKLConfig, images: tf.Tensor4D): tf.Tensor4D {
  const groups = config.normNumGroups;
  const levels = config.blockOutChannels.length;
  return tf.tidy(() => {
    let h = conv2dModule(weights, 'encoder.conv_in', images, { padding: 1 }); // [B, H, W, 3] -> [B, H, W, c_0]
    for (let i = 0; i < levels; i++) {
      for (let j = 0; j < config.layersPerBlock; j++) {
        h = resnetBlock2d(weights, `encoder.down_blocks.${i}.resnets.${j}`, h, undefined, { groups, eps: vaeNormEps }); // -> [B, ·, ·, c_i]
      }
      if (i < levels - 1) h = downsample2d(weights, `encoder.down_blocks.${i}.downsamplers.0`, h, 0); // [B, H_i, W_i, c_i] -> [B, H_i/2, W_i/2, c_i]
    }
    h = vaeMidBlock(weights, 'encoder.mid_block', h, groups, config.midBlockAddAttention); // [B, h, w, c_{L−1}]
    h = groupNormModule(weights, 'encoder.conv_norm_out', h, groups, vaeNormEps); // [B, h, w, c_{L−1}]
    h = silu(h) as tf.Tensor4D; // [B, h, w, c_{L−1}]
    h = conv2dModule(weights, 'encoder.conv_out', h, { padding: 1 }); // [B, h, w, c_{L−1}] -> [B, h, w, 2·C_z]
    return config.useQuantConv ? conv2dModule(weights, 'quant_conv', h) : h; // 1×1: [B, h, w, 2·C_z]
  });
}
