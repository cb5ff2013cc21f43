/**
 * The classifier the harness scores images with: anything that maps images to class probabilities — the
 * embedded world's oracle CNN, or a CLIP image tower through `createZeroShotClassifier`.
 *
 * Images are float32 [B, H, W, 3] (NHWC) in [-1, 1] — the VAE decoder's range before the [0, 1] conversion
 * used for PNGs. A classifier resizes and normalises them itself (e.g. CLIP's 224 crop and mean/std).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { zeroShotProbabilities } from '../metrics/zero-shot';

/** Maps images to probabilities over `classNames`. */
export interface ImageClassifier {
  /** The K classes, in the order of the probability columns. */
  readonly classNames: readonly string[];
  /**
   * @param images float32 [B, H, W, 3] in [-1, 1]; not disposed.
   * @returns float32 [B, K] probabilities (rows sum to 1); the caller owns it.
   */
  classify(images: tf.Tensor4D): tf.Tensor2D | Promise<tf.Tensor2D>;
}

/**
 * Builds a zero-shot classifier from an image encoder and one text embedding per class (CLIP: the text tower
 * on "a photo of the {name}"): probabilities = softmax(logitScale · cos).
 *
 * @param args.encodeImages images [B, H, W, 3] in [-1, 1] → embeddings [B, D]; the classifier disposes them.
 * @param args.textEmbeddings float32 [K, D]; owned by the caller, who keeps it alive while the classifier is used.
 * @throws ShapeMismatchError when `textEmbeddings` is not [K, D] with K = classNames.length; InvalidOptionError
 *   for duplicated class names.
 */
export function createZeroShotClassifier(args: {
  readonly classNames: readonly string[];
  readonly textEmbeddings: tf.Tensor2D;
  readonly encodeImages: (images: tf.Tensor4D) => tf.Tensor2D | Promise<tf.Tensor2D>;
  readonly logitScale?: number;
}): ImageClassifier {
  const { classNames, textEmbeddings, encodeImages } = args;
  if (classNames.length === 0 || new Set(classNames).size !== classNames.length) {
    throw new InvalidOptionError({ option: 'classNames', expected: 'a non-empty list of distinct names', received: classNames });
  }
  if (textEmbeddings.rank !== 2 || textEmbeddings.shape[0] !== classNames.length) {
    throw new ShapeMismatchError({ what: 'createZeroShotClassifier textEmbeddings', expected: [classNames.length, null], received: textEmbeddings.shape });
  }
  const options = args.logitScale === undefined ? {} : { logitScale: args.logitScale };
  return {
    classNames: [...classNames],
    async classify(images: tf.Tensor4D): Promise<tf.Tensor2D> {
      const embeddings = await encodeImages(images); // [B, H, W, 3] -> [B, D]
      try {
        return zeroShotProbabilities(embeddings, textEmbeddings, options); // [B, D], [K, D] -> [B, K]
      } finally {
        embeddings.dispose();
      }
    },
  };
}

/**
 * Classifies images in batches and reads the probabilities back to the host.
 *
 * @param images float32 [N, H, W, 3] in [-1, 1]; not disposed.
 * @param options.batchSize images per `classify` call (default N).
 * @param options.rangeTolerance how far outside [-1, 1] a value may lie (default 1e-3).
 * @returns N rows of K probabilities (Float32Array each); no tensor outlives the call.
 * @throws ShapeMismatchError for images that are not float32 [N, H, W, 3] or output that is not [b, K];
 *   InvalidOptionError for values outside [-1, 1] (e.g. [0, 255] pixels) or a bad batch size.
 */
export async function classifyImages(
  classifier: ImageClassifier,
  images: tf.Tensor4D,
  options: { readonly batchSize?: number; readonly rangeTolerance?: number } = {},
): Promise<Float32Array[]> {
  const [n, h, w, c] = images.shape;
  if (images.rank !== 4 || c !== 3 || images.dtype !== 'float32' || n < 1) {
    throw new ShapeMismatchError({ what: `classifyImages images (float32 NHWC, found ${images.dtype})`, expected: [null, null, null, 3], received: images.shape });
  }
  const batchSize = options.batchSize ?? n;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidOptionError({ option: 'batchSize', expected: 'a positive integer', received: batchSize });
  }
  const tolerance = options.rangeTolerance ?? 1e-3;
  if (typeof tolerance !== 'number' || !(tolerance >= 0) || !Number.isFinite(tolerance)) {
    throw new InvalidOptionError({ option: 'rangeTolerance', expected: 'a finite number ≥ 0', received: tolerance });
  }
  const range = tf.tidy(() => tf.stack([tf.min(images), tf.max(images)])); // [N, H, W, 3] -> [2]
  const [low, high] = await range.data();
  range.dispose();
  if ((low as number) < -1 - tolerance || (high as number) > 1 + tolerance || Number.isNaN(low) || Number.isNaN(high)) {
    throw new InvalidOptionError({ option: 'images', expected: 'values in [-1, 1] (x·2 − 1 for [0, 1] images)', received: `values in [${low}, ${high}]` });
  }
  const k = classifier.classNames.length;
  const rows: Float32Array[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const batch = size === n ? images : tf.slice(images, [start, 0, 0, 0], [size, h, w, 3]); // [N, H, W, 3] -> [b, H, W, 3]
    let probabilities: tf.Tensor2D | undefined;
    try {
      probabilities = await classifier.classify(batch); // [b, H, W, 3] -> [b, K]
      if (probabilities.rank !== 2 || probabilities.shape[0] !== size || probabilities.shape[1] !== k) {
        throw new ShapeMismatchError({ what: 'ImageClassifier.classify output', expected: [size, k], received: probabilities.shape });
      }
      const data = await probabilities.data();
      for (let b = 0; b < size; b++) rows.push(Float32Array.from(data.subarray(b * k, (b + 1) * k)));
    } finally {
      probabilities?.dispose();
      if (batch !== images) batch.dispose();
    }
  }
  return rows;
}
