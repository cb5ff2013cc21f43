/**
 * The scoring half of the harness: classify the images a shard generated, keep one JSON-friendly result per
 * plan item (mergeable with `mergeShardResults`), and turn merged results into the `ClassifiedImage`s of
 * `scoreErasedClass` for one erased class.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, reportProgress, throwIfAborted } from '@erase/core';
import type { LongRunningOptions } from '@erase/core';
import { classifyImages } from '../classifier/image-classifier';
import type { ImageClassifier } from '../classifier/image-classifier';
import type { ClassifiedImage } from '../metrics/erasure-accuracy';
import type { GenerationItem } from './plan';
import { promptRole } from './prompt-rows';

/** One plan item and the classifier's probabilities for its image. */
export interface ClassifiedItem {
  readonly key: string;
  readonly caseNumber: number;
  readonly imageIndex: number;
  readonly className: string;
  readonly extra?: Readonly<Record<string, string>>;
  /** K probabilities over the classifier's `classNames`. */
  readonly probabilities: readonly number[];
}

/** A batch of generated images and the plan items they show, in the same order. */
export interface GeneratedBatch {
  readonly items: readonly GenerationItem[];
  /** float32 [b, H, W, 3] in [-1, 1]; owned by the producer (dispose it after the consumer resumes you). */
  readonly images: tf.Tensor4D;
}

/**
 * Classifies every batch and returns one result per item, in batch order.
 *
 * @param batches a (possibly async) sequence of generated batches; their tensors are not disposed here.
 * @param options `onProgress` (stage `"eval.classify"`, step = batches done) and `signal`.
 * @throws InvalidOptionError when a batch's image count differs from its item count; AbortedError when aborted;
 *   whatever `classifyImages` throws.
 */
export async function classifyGeneratedBatches(
  classifier: ImageClassifier,
  batches: Iterable<GeneratedBatch> | AsyncIterable<GeneratedBatch>,
  options: LongRunningOptions & { readonly totalBatches?: number } = {},
): Promise<ClassifiedItem[]> {
  const results: ClassifiedItem[] = [];
  let step = 0;
  for await (const batch of batches) {
    throwIfAborted(options.signal, 'classifyGeneratedBatches');
    if (batch.images.shape[0] !== batch.items.length) {
      throw new InvalidOptionError({ option: `batches[${step}].images`, expected: `${batch.items.length} images (one per item)`, received: batch.images.shape });
    }
    const rows = await classifyImages(classifier, batch.images);
    batch.items.forEach((item, b) => {
      const result: ClassifiedItem = {
        key: item.key,
        caseNumber: item.caseNumber,
        imageIndex: item.imageIndex,
        className: item.className,
        probabilities: Array.from(rows[b] as Float32Array),
      };
      results.push(item.extra ? { ...result, extra: item.extra } : result);
    });
    step++;
    reportProgress(options.onProgress, { stage: 'eval.classify', step, total: options.totalBatches ?? step });
  }
  return results;
}

/**
 * The images that take part when `erasedClass` is erased, with their roles (see `promptRole`); synonyms of
 * other classes are left out.
 */
export function classifiedImagesFor(results: readonly ClassifiedItem[], erasedClass: string): ClassifiedImage[] {
  const images: ClassifiedImage[] = [];
  for (const result of results) {
    const role = promptRole(result, erasedClass);
    if (role !== null) images.push({ probabilities: result.probabilities, intendedClass: result.className, role });
  }
  return images;
}
