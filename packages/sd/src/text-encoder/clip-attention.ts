/**
 * Causal multi-head self-attention of the CLIP text transformer (transformers `CLIPAttention` with the causal
 * mask `CLIPTextTransformer` builds; no padding mask, as in SD).
 *
 * Notation (Vaswani et al. 2017, eq. 1; transformers names in brackets):
 *   B batch, T tokens, D = hiddenSize, H heads, d = D/H head width, s = d^-1/2 [self.scale]
 *   Q = s·(X W_q + b_q) [q_proj], K = X W_k + b_k [k_proj], V = X W_v + b_v [v_proj]      each [B, T, D]
 *   A_h = softmax(Q_h K_hᵀ + M), M[i, j] = finfo(float32).min for j > i, else 0            [B, H, T, T]
 *   Y = concat_h(A_h V_h) W_o + b_o [out_proj]                                              [B, T, D]
 *
 * The attention itself is `src/nn`'s `multiHeadAttention` (written for wasm: heads folded into plain matMuls).
 */
import * as tf from '@tensorflow/tfjs-core';
import { multiHeadAttention } from '../nn/attention';
import { linearModule } from '../nn/linear';
import type { ModuleWeights } from '../nn/weights';

/**
 * Y = CausalSelfAttention(X) for the `CLIPAttention` at `path` (`path.{q,k,v,out}_proj`).
 * `x` float32 [B, T, D] → [B, T, D]. Differentiable; the caller owns the result; inputs are not disposed.
 * @throws WeightKeysError when a projection weight is missing
 */
export function clipCausalSelfAttention(weights: ModuleWeights, path: string, x: tf.Tensor3D, numHeads: number): tf.Tensor3D {
  return tf.tidy(() => {
    const q = linearModule(weights, `${path}.q_proj`, x) as tf.Tensor3D; // [B, T, D] x [D, D] -> [B, T, D]
    const k = linearModule(weights, `${path}.k_proj`, x) as tf.Tensor3D; // [B, T, D]
    const v = linearModule(weights, `${path}.v_proj`, x) as tf.Tensor3D; // [B, T, D]
    const context = multiHeadAttention(q, k, v, numHeads, { causal: true }); // softmax(s·QKᵀ + M)V: [B, T, D]
    return linearModule(weights, `${path}.out_proj`, context) as tf.Tensor3D; // [B, T, D] x [D, D] -> [B, T, D]
  });
}
