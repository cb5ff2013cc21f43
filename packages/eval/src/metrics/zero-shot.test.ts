import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { zeroShotProbabilities } from './zero-shot';

describe.each(['cpu', 'wasm'])('zeroShotProbabilities on %s', (backend) => {
  it('is softmax(scale · cos) over classes (hand values)', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    const image = tf.tensor2d([[1, 0], [0, 3]]); // [B=2, D=2]
    const text = tf.tensor2d([[2, 0], [0, 5]]); // [K=2, D=2], unnormalised on purpose
    const before = tf.memory().numTensors;
    const p = zeroShotProbabilities(image, text, { logitScale: 1 });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(p.shape).toEqual([2, 2]);
    // image 0: cos (1, 0) → softmax(1, 0) = (e/(e+1), 1/(e+1)); image 1: cos (0, 1) → the reverse
    const e = Math.E;
    const want = [e / (e + 1), 1 / (e + 1), 1 / (e + 1), e / (e + 1)];
    const got = Array.from(await p.data());
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, text]);
  });

  it('uses CLIP logit scale 100 by default', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    const image = tf.tensor2d([[1, 0]]);
    const text = tf.tensor2d([[1, 0], [0.6, 0.8]]); // cos 1 and 0.6 → logits 100, 60 → p1 = 1/(1 + e^40)
    const p = zeroShotProbabilities(image, text);
    const got = Array.from(await p.data());
    expect(got[0]).toBeCloseTo(1, 6);
    expect(Math.abs((got[1] as number) / Math.exp(-40) - 1)).toBeLessThan(1e-2);
    tf.dispose([p, image, text]);
  });

  it('rejects mismatched D, a bad scale and int inputs without leaking', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    const image = tf.zeros([2, 3]) as tf.Tensor2D;
    const text = tf.zeros([4, 2]) as tf.Tensor2D;
    const ints = tf.zeros([4, 3], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => zeroShotProbabilities(image, text)).toThrow(ShapeMismatchError);
    expect(() => zeroShotProbabilities(image, ints)).toThrow(ShapeMismatchError);
    expect(() => zeroShotProbabilities(image, image, { logitScale: 0 })).toThrow(InvalidOptionError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, text, ints]);
  });
});
