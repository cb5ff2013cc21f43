/**
 * The predicted clean latent from a noise prediction (DDPM, Ho et al. 2020 eq. 15; DDIM, Song et al.
 * 2021 eq. 12, "predicted x_0"; diffusers `DDIMScheduler.step` `pred_original_sample`).
 *
 * Notation:
 *   z_t  `latents`   [B, ...]   the noisy latent at step t
 *   ε    `epsilon`   [B, ...]   a noise prediction ε_θ(z_t, t, E)
 *   ᾱ_t  `alphaBar`  number or [B]  cumulative product of (1 − β), in (0, 1]
 *   x̂0 = (z_t − √(1 − ᾱ_t) · ε) / √ᾱ_t
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '../errors/errors';
import { checkSameShape } from './mse';

/** ᾱ_t: one number for the whole batch, or a float32 [B] tensor (one value per batch element). */
export type AlphaBar = number | tf.Tensor1D;

/**
 * x̂0 = (z_t − √(1−ᾱ_t) ε)/√ᾱ_t, broadcasting a per-batch ᾱ_t [B] over every other axis.
 * Inputs are not disposed; the caller owns the result (same shape as `latents`). Tensor values of
 * ᾱ_t are not read back, so they are not range-checked: keep them in (0, 1].
 * @throws ShapeMismatchError when `epsilon` differs from `latents` or `alphaBar` is not [B];
 *   InvalidOptionError (`alphaBar`) for a number outside (0, 1].
 */
export function predictX0(latents: tf.Tensor, epsilon: tf.Tensor, alphaBar: AlphaBar): tf.Tensor {
  checkSameShape('predictX0 epsilon (must match latents)', latents, epsilon);
  if (typeof alphaBar === 'number') {
    if (!Number.isFinite(alphaBar) || alphaBar <= 0 || alphaBar > 1) {
      throw new InvalidOptionError({ option: 'alphaBar', expected: 'a number in (0, 1]', received: alphaBar });
    }
    const a = Math.sqrt(alphaBar);
    const b = Math.sqrt(1 - alphaBar);
    return tf.tidy(() => tf.div(tf.sub(latents, tf.mul(epsilon, b)), a)); // [B, ...]
  }
  const batch = latents.shape[0] ?? 0;
  if (alphaBar.rank !== 1 || alphaBar.shape[0] !== batch) {
    throw new ShapeMismatchError({ what: 'alphaBar (one value per batch element)', expected: [batch], received: alphaBar.shape });
  }
  return tf.tidy(() => {
    const shape = [batch, ...latents.shape.slice(1).map(() => 1)];
    const alpha = tf.reshape(alphaBar, shape); // [B] -> [B, 1, ..., 1]
    const signal = tf.sqrt(alpha); // √ᾱ_t [B, 1, ..., 1]
    const noise = tf.sqrt(tf.sub(1, alpha)); // √(1 − ᾱ_t) [B, 1, ..., 1]
    return tf.div(tf.sub(latents, tf.mul(epsilon, noise)), signal); // [B, ...]
  });
}
