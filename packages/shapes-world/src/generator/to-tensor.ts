/** Turns (part of) a generated batch into a tfjs tensor. */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import type { ShapesBatch } from './generate';

/**
 * Images `start … start + count − 1` of `batch` as float32 [count, N, N, 3] in [-1, 1]. The caller owns the result.
 * @throws InvalidOptionError for a range outside the batch or an empty range.
 */
export function shapesToTensor(batch: ShapesBatch, range: { start?: number; count?: number } = {}): tf.Tensor4D {
  const [total, h, w, c] = batch.shape;
  const start = range.start ?? 0;
  const count = range.count ?? total - start;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > total) {
    throw new InvalidOptionError({ option: 'range', expected: `1 or more images within [0, ${total})`, received: `start ${start}, count ${count}` });
  }
  const pixels = h * w * c;
  return tf.tensor4d(batch.images.slice(start * pixels, (start + count) * pixels), [count, h, w, c], 'float32');
}
