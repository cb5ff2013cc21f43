// Tests of the custom-gradient 3×3 convolution: value and both gradients against tfjs's own conv2d and its
// registered gradient on cpu, wasm against cpu, and leaks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureGradients, Rng } from '@erase/core';
import { conv3x3 } from './conv3x3';

beforeAll(async () => {
  await ensureGradients();
});

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  expect(a.shape).toEqual(b.shape);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)));
  return worst;
}

/** Value and gradients (w.r.t. x and K) of Σ w ⊙ conv(x, K) for a given conv implementation. */
function valueAndGradients(conv: (x: tf.Tensor4D, k: tf.Tensor4D) => tf.Tensor4D, x: tf.Tensor4D, k: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor[] {
  const y = conv(x, k);
  const [dx, dk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), w)))([x, k]);
  return [y, dx as tf.Tensor, dk as tf.Tensor];
}

describe('conv3x3', () => {
  const cases: [number, number, number, number, number][] = [
    [2, 5, 7, 3, 4], // B, H, W, Ci, Co: odd, non-square
    [3, 6, 6, 8, 16],
    [1, 1, 1, 2, 3], // a single pixel: only the kernel centre touches it
  ];

  it.each(cases)('B=%i H=%i W=%i Ci=%i Co=%i: value and gradients equal tfjs conv2d and its gradient on cpu', async (b, h, w, ci, co) => {
    await tf.setBackend('cpu');
    const rng = new Rng(b * 100 + h);
    const x = rng.normalTensor([b, h, w, ci]) as tf.Tensor4D;
    const k = rng.normalTensor([3, 3, ci, co]) as tf.Tensor4D;
    const weights = rng.normalTensor([b, h, w, co]) as tf.Tensor4D;
    const ours = valueAndGradients(conv3x3, x, k, weights);
    const reference = valueAndGradients((a, c) => tf.conv2d(a, c, 1, 'same'), x, k, weights);
    for (let i = 0; i < 3; i++) {
      const diff = await maxAbsDiff(ours[i]!, reference[i]!);
      expect(diff, `${['value', 'dx', 'dK'][i]}: max abs diff ${diff}`).toBeLessThan(1e-4);
    }
    tf.dispose([x, k, weights, ...ours, ...reference]);
  });

  it('wasm gives the cpu values (its own Conv2DBackpropFilter kernel is not needed)', async () => {
    const results: tf.Tensor[][] = [];
    const data = [new Rng(1).normalArray(2 * 8 * 8 * 4), new Rng(2).normalArray(3 * 3 * 4 * 6), new Rng(3).normalArray(2 * 8 * 8 * 6)];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const x = tf.tensor4d(Float32Array.from(data[0]!), [2, 8, 8, 4]);
      const k = tf.tensor4d(Float32Array.from(data[1]!), [3, 3, 4, 6]);
      const w = tf.tensor4d(Float32Array.from(data[2]!), [2, 8, 8, 6]);
      const out = valueAndGradients(conv3x3, x, k, w);
      results.push(await Promise.all(out.map(async (t) => tf.tensor(await t.data(), t.shape))));
      tf.dispose([x, k, w, ...out]);
    }
    await tf.setBackend('cpu');
    for (let i = 0; i < 3; i++) expect(await maxAbsDiff(results[0]![i]!, results[1]![i]!)).toBeLessThan(1e-4);
  });

  it('leaves no tensors behind in the forward pass or the gradient', async () => {
    await tf.setBackend('cpu');
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const k = tf.ones([3, 3, 2, 2]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const y = conv3x3(x, k);
    expect(tf.memory().numTensors).toBe(before + 1);
    const dk = tf.grad((kernel: tf.Tensor) => tf.sum(conv3x3(x, kernel as tf.Tensor4D)))(k);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([x, k, y, dk]);
  });
});
