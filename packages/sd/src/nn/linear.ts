/**
 * Linear layer (PyTorch `nn.Linear`, diffusers `LoRACompatibleLinear`), weights in tfjs layout.
 *
 * Notation:
 *   x  [..., in]        input, any leading dims (N = their product)
 *   W  [in, out]        weight, tfjs layout (PyTorch stores Wᵀ = [out, in]; converted at load)
 *   b  [out]            optional bias
 *   A  [r, in], B [out, r], s   optional LoRA factors and scale: y = x W + b + s · (x Aᵀ) Bᵀ
 *                       (diffusers: `base(x) + scale · up(down(x)) · α/r`; `s` already holds α/r · scale)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LinearAdapter, ModuleWeights } from './weights';

/**
 * `y = x W + b`. x float32 [..., in], W [in, out], b [out] → [..., out]. Returns a new tensor the caller owns;
 * inputs are not disposed. Rank > 2 inputs are flattened to one 2-D matMul (fast on wasm, no batch broadcast).
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor, adapter?: LinearAdapter): tf.Tensor {
  return tf.tidy(() => {
    const inFeatures = weight.shape[0] as number;
    const outFeatures = weight.shape[1] as number;
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D; // [..., in] -> [N, in]
    let y: tf.Tensor = tf.matMul(x2, weight as tf.Tensor2D); // [N, in] x [in, out] -> [N, out]
    if (bias) y = tf.add(y, bias); // [N, out] + [out] -> [N, out]
    if (adapter) y = tf.add(y, loraDelta(x2, adapter)); // [N, out]
    return tf.reshape(y, [...lead, outFeatures]); // [N, out] -> [..., out]
  });
}

/**
 * The low-rank term alone: `s · (x Aᵀ) Bᵀ`. x float32 [N, in], A [r, in], B [out, r] → [N, out]. The two small
 * factors are transposed explicitly so both products are plain 2-D matMuls (fast on wasm). The caller owns the result.
 */
export function loraDelta(x2: tf.Tensor2D, adapter: LinearAdapter): tf.Tensor2D {
  return tf.tidy(() => {
    const downT = tf.transpose(adapter.down) as tf.Tensor2D; // [r, in] -> [in, r]
    const upT = tf.transpose(adapter.up) as tf.Tensor2D; // [out, r] -> [r, out]
    const low = tf.matMul(x2, downT); // [N, in] x [in, r] -> [N, r]
    return tf.mul(tf.matMul(low, upT), adapter.scale) as tf.Tensor2D; // [N, r] x [r, out] -> [N, out]
  });
}

/**
 * The Linear module at `path`: reads `path.weight` ([in, out]), the optional `path.bias`, and the adapter that
 * `weights.linearAdapter(path)` returns, if any. x [..., in] → [..., out]; the caller owns the result.
 * @throws WeightKeysError when `path.weight` is absent
 */
export function linearModule(weights: ModuleWeights, path: string, x: tf.Tensor): tf.Tensor {
  return linear(x, weights.get(`${path}.weight`), weights.find(`${path}.bias`), weights.linearAdapter?.(path));
}
