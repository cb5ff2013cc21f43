/**
 * The VAE's mid block (diffusers `UNetMidBlock2D` with `temb_channels=None`) and its attention layer, channels-last.
 *
 * Notation (diffusers names in brackets; B batch, H×W spatial, N = H·W positions, C channels):
 *   x₁ = ResnetBlock2D(x)                                              [resnets.0]            [B, H, W, C]
 *   x₂ = x₁ + to_out(softmax(q kᵀ / √C) v),  q, k, v = to_{q,k,v}(GN(x₁)) single head     [attentions.0]
 *        (GN = GroupNorm(G, eps) [group_norm]; tokens are the N positions, [B, N, C])
 *   y  = ResnetBlock2D(x₂)                                             [resnets.1]            [B, H, W, C]
 * Every norm uses `norm_num_groups` groups and eps 1e-6 (diffusers' `resnet_eps` in Encoder/Decoder).
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionModule } from '../nn/attention';
import { groupNormModule } from '../nn/norm';
import { resnetBlock2d } from '../nn/resnet-block';
import type { ModuleWeights } from '../nn/weights';

/** GroupNorm eps of every VAE norm (diffusers' Encoder/Decoder pass `resnet_eps=1e-6`). */
export const vaeNormEps = 1e-6;

/**
 * The VAE's self-attention at `path` with its group norm and residual connection (diffusers `Attention` built with
 * `residual_connection=True`, one head of width C). x float32 [B, H, W, C] → [B, H, W, C]. The caller owns the result.
 */
export function vaeAttention(weights: ModuleWeights, path: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => {
    const normed = groupNormModule(weights, `${path}.group_norm`, x, groups, vaeNormEps); // [B, H, W, C]
    const tokens = tf.reshape(normed, [b, h * w, c]); // [B, H, W, C] -> [B, N, C]
    const attended = attentionModule(weights, path, tokens as tf.Tensor3D, undefined, { heads: 1 }); // [B, N, C]
    return tf.add(x, tf.reshape(attended, [b, h, w, c])) as tf.Tensor4D; // [B, N, C] -> [B, H, W, C] (+ residual)
  });
}

/**
 * The mid block at `path`: resnet, attention (when `withAttention`), resnet. x float32 [B, H, W, C] → [B, H, W, C].
 * The caller owns the result.
 */
export function vaeMidBlock(weights: ModuleWeights, path: string, x: tf.Tensor4D, groups: number, withAttention: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const options = { groups, eps: vaeNormEps };
    let h = resnetBlock2d(weights, `${path}.resnets.0`, x, undefined, options); // [B, H, W, C]
    if (withAttention) h = vaeAttention(weights, `${path}.attentions.0`, h, groups); // [B, H, W, C]
    return resnetBlock2d(weights, `${path}.resnets.1`, h, undefined, options); // [B, H, W, C]
  });
}
