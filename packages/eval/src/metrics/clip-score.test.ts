import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ShapeMismatchError } from '@erase/core';
import { clipScores, meanClipScore } from './clip-score';

describe.each(['cpu', 'wasm'])('CLIP score on %s', (backend) => {
  it('is 100 · cos per pair and their mean (hand values)', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    // pairs: (1,0)·(1,0) → cos 1; (3,4)·(4,3) → 24/25 = 0.96; (1,0)·(−1,0) → −1; (0,0)·(1,0) → 0 (zero row stays 0)
    const image = tf.tensor2d([[1, 0], [3, 4], [1, 0], [0, 0]]);
    const text = tf.tensor2d([[1, 0], [4, 3], [-2, 0], [1, 0]]);
    const before = tf.memory().numTensors;
    const scores = clipScores(image, text);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(scores.shape).toEqual([4]);
    const values = Array.from(await scores.data());
    scores.dispose();
    [100, 96, -100, 0].forEach((want, i) => expect(values[i]).toBeCloseTo(want, 4));
    expect(await meanClipScore(image, text)).toBeCloseTo((100 + 96 - 100 + 0) / 4, 4);
    expect(await meanClipScore(image, text, { clampAtZero: true })).toBeCloseTo((100 + 96) / 4, 4);
    expect(tf.memory().numTensors).toBe(before);
    expect(image.isDisposed || text.isDisposed).toBe(false);
    image.dispose();
    text.dispose();
  });

  it('rejects mismatched or non-float shapes without leaking', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([3, 3]) as tf.Tensor2D;
    const c = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => clipScores(a, b)).toThrow(ShapeMismatchError);
    expect(() => clipScores(a, c)).toThrow(ShapeMismatchError);
    await expect(meanClipScore(a, b)).rejects.toThrow(ShapeMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, c]);
  });
});
