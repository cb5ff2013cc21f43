/**
 * Global gradient-norm clipping (PyTorch's `torch.nn.utils.clip_grad_norm_`).
 *
 * Notation: G = √(Σ_θ ‖g_θ‖²) over every gradient;  g ← g · min(1, max_norm / (G + 10⁻⁶)).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Scales `gradients` in place (replacing and disposing the old tensors) so that their global L2 norm is at most
 * `maxNorm`; `maxNorm = 0` leaves them alone. Returns G, the norm before clipping. No other tensor is left behind.
 */
export function clipGlobalNorm(gradients: tf.NamedTensorMap, maxNorm: number): number {
  const names = Object.keys(gradients);
  if (names.length === 0) return 0;
  const squared = tf.tidy(() => tf.addN(names.map((name) => tf.sum(tf.square(gradients[name] as tf.Tensor))))); // Σ ‖g‖², []
  const norm = Math.sqrt(squared.dataSync()[0] as number);
  squared.dispose();
  const coefficient = maxNorm / (norm + 1e-6);
  if (maxNorm > 0 && coefficient < 1) {
    for (const name of names) {
      const old = gradients[name] as tf.Tensor;
      gradients[name] = tf.mul(old, coefficient); // same shape as θ
      old.dispose();
    }
  }
  return norm;
}
