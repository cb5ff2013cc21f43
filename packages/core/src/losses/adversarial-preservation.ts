/**
 * Adversarial Preservation losses (Bui et al., "Erasing Undesirable Concepts in Diffusion Models with
 * Adversarial Preservation", NeurIPS 2024; methods.md §4; official `train_adversarial_gumbel.py` /
 * `train_adversarial_pgd.py`), computed on predicted clean latents x̂0 rather than on ε.
 *
 * Notation:
 *   z, z_a           `latents`        partially denoised latents: z from the erased prompt; z_a from c_a
 *                                     in the Gumbel variant, while the PGD variant reuses z for both losses
 *   ᾱ_t              `alphaBar`       number or [B]; the official code uses the DDIM schedule's ᾱ at the
 *                                     step index reached (`sampler.ddim_alphas[t_enc]`) — the caller decides
 *   x̂0_θ'(z, c)      trained model's prediction turned into x̂0 by `predictX0`
 *   x̂0_θ(z, c)       frozen (original) model's, likewise
 *   c_e, c_a, ∅      erased concept, adversarial concept, empty prompt
 *   η                `negativeGuidance` (default 1)
 *
 *   L_erase    = mean((x̂0_θ'(z, c_e) − sg[x̂0_θ(z, ∅) − η(x̂0_θ(z, c_e) − x̂0_θ(z, ∅))])²)
 *   L_preserve = mean((x̂0_θ'(z_a, c_a) − sg[x̂0_θ(z_a, c_a)])²)
 *
 * Because x̂0 is affine in ε, L_erase = (1 − ᾱ_t)/ᾱ_t · L_ESD for a scalar ᾱ_t. The frozen predictions
 * are computed under `torch.no_grad()` officially, so the adversarial search's gradient reaches c_a only
 * through the trained model's branch; `stopGradient` on the targets reproduces that here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkSameShape, meanSquaredError } from './mse';
import { predictX0, type AlphaBar } from './predict-x0';
import { resolveNegativeGuidance, type EsdLossOptions } from './esd';
import { stopGradient } from './stop-gradient';

/** Inputs of the erase loss; every prediction has the shape of `latents` ([B, H, W, C]). */
export interface AdversarialEraseInputs {
  /** z: latent at step t, sampled with the erased prompt. */
  readonly latents: tf.Tensor;
  /** ᾱ_t (number or [B]). */
  readonly alphaBar: AlphaBar;
  /** ε_θ'(z, c_e): trained model, erased concept. Gradients flow through it. */
  readonly trainedConditional: tf.Tensor;
  /** ε_θ(z, ∅): frozen model, empty prompt. */
  readonly frozenUnconditional: tf.Tensor;
  /** ε_θ(z, c_e): frozen model, erased concept. */
  readonly frozenConditional: tf.Tensor;
}

/** Inputs of the preserve loss; every prediction has the shape of `latents`. */
export interface AdversarialPreserveInputs {
  /** z_a: latent at step t, sampled with the adversarial concept c_a. */
  readonly latents: tf.Tensor;
  /** ᾱ_t (number or [B]). */
  readonly alphaBar: AlphaBar;
  /** ε_θ'(z_a, c_a): trained model, adversarial concept. Gradients flow through it (to θ' and to c_a). */
  readonly trainedAdversarial: tf.Tensor;
  /** ε_θ(z_a, c_a): frozen model, adversarial concept. */
  readonly frozenAdversarial: tf.Tensor;
}

/**
 * L_erase (scalar), the ESD loss in x̂0 space. Inputs are not disposed; the caller owns the scalar.
 * @throws ShapeMismatchError when a prediction differs from `latents` or ᾱ_t is not [B];
 *   InvalidOptionError for ᾱ_t outside (0, 1] or a bad η.
 */
export function adversarialEraseLoss(inputs: AdversarialEraseInputs, options: EsdLossOptions = {}): tf.Scalar {
  const eta = resolveNegativeGuidance(options.negativeGuidance);
  const { latents, alphaBar } = inputs;
  checkSameShape('adversarialEraseLoss frozenUnconditional (must match latents)', latents, inputs.frozenUnconditional);
  checkSameShape('adversarialEraseLoss frozenConditional (must match latents)', latents, inputs.frozenConditional);
  return tf.tidy(() => {
    const trained = predictX0(latents, inputs.trainedConditional, alphaBar); // x̂0_θ'(z, c_e) [B, ...]
    const unconditional = predictX0(latents, inputs.frozenUnconditional, alphaBar); // x̂0_θ(z, ∅) [B, ...]
    const conditional = predictX0(latents, inputs.frozenConditional, alphaBar); // x̂0_θ(z, c_e) [B, ...]
    const target = tf.sub(unconditional, tf.mul(tf.sub(conditional, unconditional), eta)); // [B, ...]
    return meanSquaredError(trained, stopGradient(target)); // [B, ...] -> []
  });
}

/**
 * L_preserve (scalar): the trained model's x̂0 on the adversarial concept against the frozen model's.
 * Inputs are not disposed; the caller owns the scalar.
 * @throws ShapeMismatchError when a prediction differs from `latents` or ᾱ_t is not [B];
 *   InvalidOptionError for ᾱ_t outside (0, 1].
 */
export function adversarialPreserveLoss(inputs: AdversarialPreserveInputs): tf.Scalar {
  const { latents, alphaBar } = inputs;
  checkSameShape('adversarialPreserveLoss frozenAdversarial (must match latents)', latents, inputs.frozenAdversarial);
  return tf.tidy(() => {
    const trained = predictX0(latents, inputs.trainedAdversarial, alphaBar); // x̂0_θ'(z_a, c_a) [B, ...]
    const frozen = predictX0(latents, inputs.frozenAdversarial, alphaBar); // x̂0_θ(z_a, c_a) [B, ...]
    return meanSquaredError(trained, stopGradient(frozen)); // [B, ...] -> []
  });
}
