// Tests of shapesToTensor: values, ranges, copy semantics, errors and leaks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { generateShapes } from './generate';
import { shapesToTensor } from './to-tensor';

describe('shapesToTensor', () => {
  it('returns the requested images as float32 NHWC, a copy of the batch, and nothing else', async () => {
    await tf.setBackend('cpu');
    const batch = generateShapes({ count: 5, seed: 31 });
    const before = tf.memory().numTensors;
    const all = shapesToTensor(batch);
    const middle = shapesToTensor(batch, { start: 2, count: 2 });
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(all.shape).toEqual([5, 24, 24, 3]);
    expect(all.dtype).toBe('float32');
    expect(Array.from(await all.data())).toEqual(Array.from(batch.images));
    const pixels = 24 * 24 * 3;
    const expected = Array.from(batch.images.slice(2 * pixels, 4 * pixels));
    batch.images.fill(0); // the tensors do not alias the batch
    expect(Array.from(await middle.data())).toEqual(expected);
    tf.dispose([all, middle]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects ranges outside the batch without allocating', async () => {
    await tf.setBackend('cpu');
    const batch = generateShapes({ count: 3, seed: 32 });
    const before = tf.memory().numTensors;
    expect(() => shapesToTensor(batch, { start: 2, count: 2 })).toThrow(InvalidOptionError);
    expect(() => shapesToTensor(batch, { start: -1 })).toThrow(/`range`/);
    expect(() => shapesToTensor(generateShapes({ count: 0, seed: 0 }))).toThrow(InvalidOptionError);
    expect(tf.memory().numTensors).toBe(before);
  });
});
