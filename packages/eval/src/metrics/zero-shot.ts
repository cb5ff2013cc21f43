/**
 * Zero-shot class probabilities from CLIP embeddings (MACE metrics/evaluate_clip_accuracy.py; docs/methods.md §6).
 *
 * Notation:
 *   u_b ∈ R^D   image embedding of image b                      B images
 *   t_k ∈ R^D   text embedding of "a photo of the {name_k}"     K classes
 *   logit_{bk} = s · cos(u_b, t_k),  s = logitScale = 100 (CLIP's exp(logit_scale), clamped at 100)
 *   p_{b·}     = softmax_k(logit_{b·})
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import { assertEmbeddings, normalizeRows } from './embedding-math';

/**
 * softmax(logitScale · cos(image_b, text_k)) over the K classes.
 *
 * @param imageEmbeddings float32 [B, D].
 * @param textEmbeddings float32 [K, D], one row per class.
 * @param options.logitScale the temperature s (default 100).
 * @returns float32 [B, K], rows summing to 1; the caller owns it. Inputs are not disposed.
 * @throws ShapeMismatchError for inputs that are not float32 rank 2 or disagree on D; InvalidOptionError for a
 *   logit scale that is not a positive finite number.
 */
export function zeroShotProbabilities(
  imageEmbeddings: tf.Tensor2D,
  textEmbeddings: tf.Tensor2D,
  options: { readonly logitScale?: number } = {},
): tf.Tensor2D {
  const logitScale = options.logitScale ?? 100;
  if (!Number.isFinite(logitScale) || logitScale <= 0) {
    throw new InvalidOptionError({ option: 'logitScale', expected: 'a positive finite number', received: logitScale });
  }
  assertEmbeddings(imageEmbeddings, 'zeroShotProbabilities imageEmbeddings');
  assertEmbeddings(textEmbeddings, 'zeroShotProbabilities textEmbeddings', imageEmbeddings.shape[1]);
  return tf.tidy(() => {
    const u = normalizeRows(imageEmbeddings); // [B, D]
    const t = normalizeRows(textEmbeddings); // [K, D]
    const cosines = tf.matMul(u, t, false, true); // [B, D] x [K, D]^T -> [B, K]
    return tf.softmax(tf.mul(cosines, logitScale)) as tf.Tensor2D; // [B, K] -> [B, K], softmax over K
  });
}
