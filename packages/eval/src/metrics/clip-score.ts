/**
 * CLIP score (docs/methods.md §6; MACE metrics/evaluate_clip_score.py reads `logits_per_image`, i.e. the same
 * number for CLIP's logit scale of 100).
 *
 * Notation:
 *   u_n ∈ R^D  image embedding of image n (CLIP `image_embeds`, after the visual projection)
 *   v_n ∈ R^D  text embedding of its prompt (CLIP `text_embeds`)
 *   s_n      = 100 · cos(u_n, v_n)                    (torchmetrics clamps at 0: option `clampAtZero`)
 *   CLIP score = mean_n s_n
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '@erase/core';
import { assertEmbeddings, normalizeRows } from './embedding-math';

/**
 * Per-pair CLIP scores 100 · cos(image_n, text_n).
 *
 * @param imageEmbeddings float32 [N, D].
 * @param textEmbeddings float32 [N, D], row n the prompt of image n.
 * @returns float32 [N]; the caller owns it. Inputs are not disposed.
 * @throws ShapeMismatchError when either input is not float32 [N, D] or the shapes differ.
 */
export function clipScores(imageEmbeddings: tf.Tensor2D, textEmbeddings: tf.Tensor2D): tf.Tensor1D {
  assertEmbeddings(imageEmbeddings, 'clipScores imageEmbeddings');
  assertEmbeddings(textEmbeddings, 'clipScores textEmbeddings');
  if (imageEmbeddings.shape[0] !== textEmbeddings.shape[0] || imageEmbeddings.shape[1] !== textEmbeddings.shape[1]) {
    throw new ShapeMismatchError({ what: 'clipScores textEmbeddings (one row per image)', expected: imageEmbeddings.shape, received: textEmbeddings.shape });
  }
  return tf.tidy(() => {
    const u = normalizeRows(imageEmbeddings); // [N, D]
    const v = normalizeRows(textEmbeddings); // [N, D]
    return tf.mul(tf.sum(tf.mul(u, v), 1), 100) as tf.Tensor1D; // [N, D] -> [N]
  });
}

/**
 * The CLIP score: the mean of 100 · cos(image_n, text_n) over pairs, averaged in float64 on the host.
 *
 * @param options.clampAtZero use max(s_n, 0) per pair, as torchmetrics' `CLIPScore` (default false, as MACE).
 * @returns a number; no tensor outlives the call. Inputs are not disposed.
 * @throws ShapeMismatchError as `clipScores`.
 */
export async function meanClipScore(
  imageEmbeddings: tf.Tensor2D,
  textEmbeddings: tf.Tensor2D,
  options: { readonly clampAtZero?: boolean } = {},
): Promise<number> {
  const scores = clipScores(imageEmbeddings, textEmbeddings); // [N]
  const values = await scores.data();
  scores.dispose();
  let sum = 0;
  for (const s of values) sum += options.clampAtZero ? Math.max(s, 0) : s;
  return sum / values.length;
}
