/**
 * Activations used by SD's UNet, VAE and text encoders, written with ops that have kernels and gradients on both
 * the cpu and wasm backends.
 *
 * Notation:
 *   silu(x)       = x · σ(x)                       (diffusers `act_fn: "silu"`/"swish")
 *   gelu(x)       = x · ½ (1 + erf(x / √2))         (exact GELU, PyTorch `F.gelu` default, transformers "gelu")
 *   quickGelu(x)  = x · σ(1.702 x)                 (transformers "quick_gelu", SD 1.x's CLIP)
 *   geglu(h)      = a · gelu(g), [a, g] = split(h)  (diffusers `GEGLU`: `hidden, gate = proj(x).chunk(2, -1)`)
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedError } from '@erase/core';

/** x · sigmoid(x). Any shape; the caller owns the result. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** Exact (erf) GELU. Any shape; the caller owns the result. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** x · sigmoid(1.702 x). Any shape; the caller owns the result. */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/**
 * GEGLU gating on an already projected tensor: h [..., 2F] → a · gelu(g) [..., F] where a = h[..., :F] and
 * g = h[..., F:] (diffusers' chunk order: hidden first, gate second). The caller owns the result.
 */
export function geglu(projected: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [hidden, gate] = tf.split(projected, 2, -1) as [tf.Tensor, tf.Tensor]; // [..., 2F] -> 2 x [..., F]
    return tf.mul(hidden, gelu(gate)); // [..., F]
  });
}

/** Activation names accepted by `activation`. */
export type ActivationName = 'silu' | 'swish' | 'gelu' | 'quick_gelu';

/**
 * The activation for a config name (diffusers `act_fn`, transformers `hidden_act`).
 * @throws UnsupportedError naming the value for anything else
 */
export function activation(name: string, option = 'act_fn'): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'silu':
    case 'swish':
      return silu;
    case 'gelu':
      return gelu;
    case 'quick_gelu':
      return quickGelu;
    default:
      throw new UnsupportedError(`${option} "${name}" is not supported (supported: silu, swish, gelu, quick_gelu).`);
  }
}
