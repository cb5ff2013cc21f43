/**
 * Concept Ablation, model-based variant (Kumari et al., "Ablating Concepts in Text-to-Image Diffusion
 * Models", ICCV 2023; methods.md §5; official `diffusers/train.py`, `--loss_type_reverse model-based`).
 *
 * Notation (this project's letters: c = the concept to erase, c* = its anchor):
 *   x_t                     a noised latent of an *anchor* image (generated from an anchor prompt)
 *   ε_θ(x_t, c, t)          `targetPrediction`: the model being trained, prompt with the erased concept
 *   ε_θ(x_t, c*, t)         `anchorPrediction`: the same (or a frozen) model, the anchor prompt
 *
 *   L = mean( (ε_θ(x_t, c, t) − sg[ε_θ(x_t, c*, t)])² )
 *
 * Which prediction is the regression target: the *anchor* one. The official code computes
 * `model_pred = unet(noisy_latents, t, text_encoder(input_ids))` with gradients, where `input_ids` is the
 * caption rewritten to contain the concept to ablate (e.g. "…, in the style of Van Gogh"), and
 * `target = model_pred_anchor = unet(…, text_encoder(input_anchor_ids))` under `torch.no_grad()`, from the
 * image's original anchor caption; then `F.mse_loss(model_pred, target)`. So the erased-concept
 * prediction is pulled onto the anchor's, which is what ablation needs (p(x | c) → p(x | c*)).
 * The paper names the concept to ablate the "target concept", which is why methods.md §5 writes the loss
 * with c* on the trained side; read with this project's letters (c* = anchor) that formula would pull
 * the anchor onto the erased concept, the reverse of the code. We follow the code.
 *
 * Optional mask (official code: the valid region of randomly rescaled anchor images, at latent
 * resolution, [B, 1, h, w] there, [B, h, w, 1] here): per-sample masked mean, then the batch mean.
 * `maskNormalization: 'elements'` (default) divides by the number of masked *elements* (a true mean; with
 * an all-ones mask it equals the unmasked loss); `'pixels'` divides by the number of masked *pixels*, as
 * the official code's `mask.sum([1,2,3])` on a one-channel mask does, which is C times larger.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '../errors/errors';
import { checkSameShape, meanSquaredError } from './mse';
import { stopGradient } from './stop-gradient';

/** The two predictions of one Concept Ablation step, the same shape ([B, H, W, C]). */
export interface ConceptAblationPredictions {
  /** ε_θ(x_t, c, t): the trained model on the prompt containing the concept to erase. Gradients flow here. */
  readonly targetPrediction: tf.Tensor;
  /** ε_θ(x_t, c*, t): the anchor prompt's prediction; passed through `stopGradient`. */
  readonly anchorPrediction: tf.Tensor;
}

/** Options of the Concept Ablation loss. */
export interface ConceptAblationLossOptions {
  /** Valid-region mask [B, H, W, 1] (or [B, H, W, C]) of 0/1 values, channels-last. Default: none. */
  readonly mask?: tf.Tensor4D;
  /** How a masked mean is normalised: `'elements'` (default) or `'pixels'` (official code). */
  readonly maskNormalization?: 'elements' | 'pixels';
}

/**
 * The model-based Concept Ablation loss (scalar). Inputs are not disposed; the caller owns the scalar.
 * A sample whose mask is all zero contributes 0/0 = NaN, as in the official code; keep masks non-empty.
 * @throws ShapeMismatchError when the predictions differ, or the mask is not [B, H, W, 1 | C];
 *   InvalidOptionError for an unknown `maskNormalization`.
 */
export function conceptAblationLoss(predictions: ConceptAblationPredictions, options: ConceptAblationLossOptions = {}): tf.Scalar {
  const { targetPrediction, anchorPrediction } = predictions;
  checkSameShape('conceptAblationLoss anchorPrediction (must match targetPrediction)', targetPrediction, anchorPrediction);
  const normalization = options.maskNormalization ?? 'elements';
  if (normalization !== 'elements' && normalization !== 'pixels') {
    throw new InvalidOptionError({ option: 'maskNormalization', expected: "'elements' or 'pixels'", received: normalization });
  }
  const mask = options.mask;
  if (mask === undefined) {
    return tf.tidy(() => meanSquaredError(targetPrediction, stopGradient(anchorPrediction))); // [B, H, W, C] -> []
  }
  const [batch, height, width, channels] = targetPrediction.shape;
  const maskChannels = mask.shape[3];
  if (
    targetPrediction.rank !== 4 ||
    mask.rank !== 4 ||
    mask.shape[0] !== batch ||
    mask.shape[1] !== height ||
    mask.shape[2] !== width ||
    (maskChannels !== 1 && maskChannels !== channels)
  ) {
    throw new ShapeMismatchError({ what: 'conceptAblationLoss mask [B, H, W, 1]', expected: [batch ?? null, height ?? null, width ?? null, 1], received: mask.shape });
  }
  return tf.tidy(() => {
    const squared = tf.squaredDifference(targetPrediction, stopGradient(anchorPrediction)); // [B, H, W, C]
    const masked = tf.mul(squared, mask); // [B, H, W, C] * [B, H, W, 1|C] -> [B, H, W, C]
    const perSample = tf.sum(masked, [1, 2, 3]); // [B]
    const maskSum = tf.sum(mask, [1, 2, 3]); // [B]
    // 'elements' counts each masked pixel once per channel; a [B, H, W, C] mask already does.
    const scale = normalization === 'elements' && maskChannels === 1 ? (channels as number) : 1;
    const denominator = normalization === 'pixels' && maskChannels !== 1 ? tf.div(maskSum, channels as number) : tf.mul(maskSum, scale); // [B]
    return tf.mean(tf.div(perSample, denominator)) as tf.Scalar; // [B] -> []
  });
}
