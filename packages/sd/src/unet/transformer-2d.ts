/**
 * diffusers' `Transformer2DModel` (continuous input) with `BasicTransformerBlock`s, channels-last — the spatial
 * transformer of SD's cross-attention blocks (Rombach et al. 2022, §3.3 and Fig. 3).
 *
 * Notation:
 *   x [B, H, W, C] feature map, N = H·W tokens; ctx [B, T, D] text context (τ_θ(y)); inner dim = C = heads × d.
 *   h = proj_in(GroupNorm(x; G, eps 1e-6))          1×1 conv (SD 1.x) or Linear on [B, N, C] (SD 2.x)
 *   per block j:
 *     h = attn1(LN1(h)) + h                         self-attention, Q = K = V source h
 *     h = attn2(LN2(h), ctx) + h                     cross-attention: Q = W_q h, K = W_k ctx, V = W_v ctx
 *     h = ff(LN3(h)) + h,  ff = ff.net.2 ∘ GEGLU(ff.net.0.proj)
 *   out = proj_out(h) + x
 *   LayerNorm eps 1e-5. Attention scale d^-½; `upcast_attention` is a no-op in float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import { geglu } from '../nn/activations';
import { attentionModule } from '../nn/attention';
import { conv2dModule } from '../nn/conv2d';
import { linearModule } from '../nn/linear';
import { groupNormModule, layerNormModule } from '../nn/norm';
import type { ModuleWeights } from '../nn/weights';
import type { TransformerPlan } from './layout';

/** GroupNorm eps inside Transformer2DModel (fixed in diffusers). */
const TRANSFORMER_GROUP_NORM_EPS = 1e-6;
/** LayerNorm eps of BasicTransformerBlock (diffusers' default `norm_eps`). */
const BLOCK_LAYER_NORM_EPS = 1e-5;

/**
 * One BasicTransformerBlock at `path`. h float32 [B, N, C], context [B, T, D] → [B, N, C]. The caller owns the result.
 */
export function basicTransformerBlock(weights: ModuleWeights, path: string, h: tf.Tensor3D, context: tf.Tensor3D, heads: number): tf.Tensor3D {
  return tf.tidy(() => {
    const n1 = layerNormModule(weights, `${path}.norm1`, h, BLOCK_LAYER_NORM_EPS) as tf.Tensor3D; // [B, N, C]
    let x = tf.add(attentionModule(weights, `${path}.attn1`, n1, undefined, { heads }), h) as tf.Tensor3D; // [B, N, C]
    const n2 = layerNormModule(weights, `${path}.norm2`, x, BLOCK_LAYER_NORM_EPS) as tf.Tensor3D; // [B, N, C]
    x = tf.add(attentionModule(weights, `${path}.attn2`, n2, context, { heads }), x) as tf.Tensor3D; // [B, N, C]
    const n3 = layerNormModule(weights, `${path}.norm3`, x, BLOCK_LAYER_NORM_EPS); // [B, N, C]
    const gated = geglu(linearModule(weights, `${path}.ff.net.0.proj`, n3)); // [B, N, C] -> [B, N, 8C] -> [B, N, 4C]
    const ff = linearModule(weights, `${path}.ff.net.2`, gated); // [B, N, 4C] -> [B, N, C]
    return tf.add(ff, x) as tf.Tensor3D; // [B, N, C]
  });
}

/**
 * The Transformer2DModel described by `plan`. x float32 [B, H, W, C], context [B, T, D] → [B, H, W, C].
 * The caller owns the result; inputs are not disposed.
 */
export function transformer2d(weights: ModuleWeights, plan: TransformerPlan, x: tf.Tensor4D, context: tf.Tensor3D): tf.Tensor4D {
  const [b, height, width, c] = x.shape;
  return tf.tidy(() => {
    const normed = groupNormModule(weights, `${plan.path}.norm`, x, plan.groups, TRANSFORMER_GROUP_NORM_EPS); // [B, H, W, C]
    let h: tf.Tensor3D;
    if (plan.linearProjection) {
      h = linearModule(weights, `${plan.path}.proj_in`, tf.reshape(normed, [b, height * width, c])) as tf.Tensor3D; // [B, N, C] -> [B, N, C]
    } else {
      const projected = conv2dModule(weights, `${plan.path}.proj_in`, normed); // [B, H, W, C] -> [B, H, W, C]
      h = tf.reshape(projected, [b, height * width, c]); // [B, H, W, C] -> [B, N, C]
    }
    for (let j = 0; j < plan.layers; j++) {
      h = basicTransformerBlock(weights, `${plan.path}.transformer_blocks.${j}`, h, context, plan.heads); // [B, N, C]
    }
    let out: tf.Tensor4D;
    if (plan.linearProjection) {
      const projected = linearModule(weights, `${plan.path}.proj_out`, h); // [B, N, C] -> [B, N, C]
      out = tf.reshape(projected, [b, height, width, c]); // [B, N, C] -> [B, H, W, C]
    } else {
      out = conv2dModule(weights, `${plan.path}.proj_out`, tf.reshape(h, [b, height, width, c])); // [B, H, W, C] -> [B, H, W, C]
    }
    return tf.add(out, x) as tf.Tensor4D; // [B, H, W, C]
  });
}
