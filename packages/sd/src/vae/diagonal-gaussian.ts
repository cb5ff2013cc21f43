/**
 * The VAE posterior q(z | x) = N(μ, diag σ²) (diffusers `DiagonalGaussianDistribution`), channels-last.
 *
 * Notation (Kingma & Welling 2014, §2.4; diffusers names in brackets):
 *   moments [B, h, w, 2·C_z] = [μ | log σ²] split on the channel axis   [torch.chunk(parameters, 2, dim=1)]
 *   log σ² clamped to [−30, 20]                                         [logvar]
 *   σ = exp(½ log σ²)                                                   [std]
 *   z = μ + σ ⊙ ε, ε ~ N(0, I)                                          [sample()]   (reparameterisation, eq. 10)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@erase/core';

/** Bounds of log σ², as diffusers clamps them. */
export const logvarRange = [-30, 20] as const;

/**
 * A diagonal Gaussian over latents [B, h, w, C_z]. Owns its three tensors: call `dispose()` when done.
 * Differentiable: built with tfjs ops from the moments.
 */
export class DiagonalGaussian {
  /** μ, float32 [B, h, w, C_z]. */
  readonly mean: tf.Tensor4D;
  /** log σ² clamped to [−30, 20], float32 [B, h, w, C_z]. */
  readonly logvar: tf.Tensor4D;
  /** σ = exp(½ log σ²), float32 [B, h, w, C_z]. */
  readonly std: tf.Tensor4D;

  private constructor(mean: tf.Tensor4D, logvar: tf.Tensor4D, std: tf.Tensor4D) {
    this.mean = mean;
    this.logvar = logvar;
    this.std = std;
  }

  /**
   * Splits moments [B, h, w, 2·C_z] into μ and log σ² (first and second half of the channels). The moments are not
   * disposed; the distribution owns new tensors.
   */
  static fromMoments(moments: tf.Tensor4D): DiagonalGaussian {
    const [mean, logvar, std] = tf.tidy(() => {
      const [mu, rawLogvar] = tf.split(moments, 2, 3) as [tf.Tensor4D, tf.Tensor4D]; // [B, h, w, 2·C_z] -> 2 × [B, h, w, C_z]
      const clamped = tf.clipByValue(rawLogvar, logvarRange[0], logvarRange[1]); // [B, h, w, C_z]
      return [mu, clamped, tf.exp(tf.mul(clamped, 0.5))] as tf.Tensor4D[]; // σ = exp(½ log σ²)
    });
    return new DiagonalGaussian(mean as tf.Tensor4D, logvar as tf.Tensor4D, std as tf.Tensor4D);
  }

  /**
   * z = μ + σ ⊙ ε with ε drawn from `rng` (row-major over [B, h, w, C_z], so the same seed gives the same z on
   * every backend). The caller owns the result.
   */
  sample(rng: Rng): tf.Tensor4D {
    return tf.tidy(() => {
      const noise = rng.normalTensor(this.mean.shape); // ε: [B, h, w, C_z]
      return tf.add(this.mean, tf.mul(this.std, noise)) as tf.Tensor4D; // [B, h, w, C_z]
    });
  }

  /** The mode μ, as a new tensor the caller owns (diffusers `mode()`). */
  mode(): tf.Tensor4D {
    return tf.clone(this.mean);
  }

  /** Frees μ, log σ² and σ. */
  dispose(): void {
    tf.dispose([this.mean, this.logvar, this.std]);
  }
}
