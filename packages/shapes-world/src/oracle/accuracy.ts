/** Top-1 accuracy of an image classifier on generated ShapesWorld images. */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import type { ShapesBatch } from '../generator/generate';
import { shapesToTensor } from '../generator/to-tensor';
import { CLASS_NAMES } from '../world/vocabulary';

/**
 * Anything that maps images to class probabilities. Structurally identical to `ImageClassifier` of `@erase/eval`
 * (re-declared so this package does not depend on eval).
 */
export interface ImageClassifierLike {
  readonly classNames: readonly string[];
  /** float32 [B, H, W, 3] in [-1, 1] (not disposed) → float32 [B, K] (owned by the caller). */
  classify(images: tf.Tensor4D): tf.Tensor2D | Promise<tf.Tensor2D>;
}

/** Accuracy figures. */
export interface AccuracyReport {
  /** Fraction of images whose arg-max class is their label. */
  readonly accuracy: number;
  /** Accuracy per class in label order (NaN for a class with no images). */
  readonly perClass: readonly number[];
  /** confusion[label][predicted] counts. */
  readonly confusion: readonly (readonly number[])[];
  /** Number of images scored. */
  readonly count: number;
}

/**
 * Classifies every image of `batch` (in chunks of `batchSize`, default 256) and compares the arg-max with the labels.
 * No tensor outlives the call.
 * @throws InvalidOptionError for a classifier whose classes are not the world's or a bad batch size;
 *   ShapeMismatchError for classifier output that is not [b, 10].
 */
export async function evaluateAccuracy(
  classifier: ImageClassifierLike,
  batch: ShapesBatch,
  options: { batchSize?: number } = {},
): Promise<AccuracyReport> {
  const k = CLASS_NAMES.length;
  if (classifier.classNames.length !== k || classifier.classNames.some((name, i) => name !== CLASS_NAMES[i])) {
    throw new InvalidOptionError({ option: 'classifier.classNames', expected: `the world's classes ${CLASS_NAMES.join(', ')}`, received: classifier.classNames });
  }
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidOptionError({ option: 'batchSize', expected: 'a positive integer', received: batchSize });
  }
  const n = batch.shape[0];
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const images = shapesToTensor(batch, { start, count });
    let probabilities: tf.Tensor2D | undefined;
    try {
      probabilities = await classifier.classify(images); // [b, 24, 24, 3] -> [b, K]
      if (probabilities.rank !== 2 || probabilities.shape[0] !== count || probabilities.shape[1] !== k) {
        throw new ShapeMismatchError({ what: 'classifier.classify output', expected: [count, k], received: probabilities.shape });
      }
      const values = await probabilities.data();
      for (let b = 0; b < count; b++) {
        let best = 0;
        for (let j = 1; j < k; j++) if ((values[b * k + j] as number) > (values[b * k + best] as number)) best = j;
        (confusion[batch.labels[start + b] as number] as number[])[best]! += 1;
      }
    } finally {
      images.dispose();
      probabilities?.dispose();
    }
  }
  const correct = confusion.reduce((sum, row, i) => sum + (row[i] as number), 0);
  const perClass = confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? Number.NaN : (row[i] as number) / total;
  });
  return { accuracy: n === 0 ? Number.NaN : correct / n, perClass, confusion, count: n };
}
