import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError } from '../errors/errors';
import { Rng } from '../random/rng';
import { ensureGradients } from '../runtime/gradients';
import { accumulateGradients, microBatchSizes } from './gradient-accumulation';

beforeAll(async () => {
  await ensureGradients();
});

describe.each(['cpu', 'wasm'])('accumulateGradients (%s)', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('equals the full-batch gradient of a mean loss for uneven micro-batches', () => {
    const rng = new Rng(3);
    const x = rng.normalTensor([7, 5]) as tf.Tensor2D; // [B, F]
    const y = rng.normalTensor([7, 2]) as tf.Tensor2D; // [B, 2]
    const w = tf.variable(rng.normalTensor([5, 2]), true, 'acc-w'); // [F, 2]
    const b = tf.variable(tf.zeros([2]), true, 'acc-b');
    const meanLoss = (xs: tf.Tensor2D, ys: tf.Tensor2D): tf.Scalar =>
      tf.mean(tf.square(tf.sub(tf.tanh(tf.add(tf.matMul(xs, w), b)), ys))) as tf.Scalar; // mean over [b, 2]
    const full = tf.variableGrads(() => meanLoss(x, y), [w, b]);
    const sizes = microBatchSizes(7, 3); // [3, 2, 2]
    expect(sizes).toEqual([3, 2, 2]);
    const starts = [0, 3, 5];
    const before = tf.memory().numTensors;
    const acc = accumulateGradients(
      sizes,
      (m) => tf.tidy(() => meanLoss(tf.slice(x, [starts[m]!, 0], [sizes[m]!, 5]), tf.slice(y, [starts[m]!, 0], [sizes[m]!, 2]))),
      { variables: [w, b] },
    );
    expect(tf.memory().numTensors).toBe(before + 2); // exactly the two returned gradients
    expect(acc.loss).toBeCloseTo(full.value.dataSync()[0]!, 5);
    for (const name of ['acc-w', 'acc-b']) {
      const a = acc.grads[name]!.dataSync();
      const f = full.grads[name]!.dataSync();
      f.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 5));
    }
    tf.dispose([x, y, w, b, full.value, ...Object.values(full.grads), ...Object.values(acc.grads)]);
  });

  it('validates sizes and stops on abort without leaking', () => {
    expect(() => accumulateGradients([], () => tf.scalar(0))).toThrow(InvalidOptionError);
    expect(() => microBatchSizes(0, 2)).toThrow(InvalidOptionError);
    const v = tf.variable(tf.scalar(2), true, 'acc-abort');
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    let calls = 0;
    expect(() =>
      accumulateGradients(
        [1, 1, 1],
        () => {
          calls += 1;
          if (calls === 2) controller.abort();
          return tf.square(v) as tf.Scalar;
        },
        { variables: [v], signal: controller.signal },
      ),
    ).toThrow(AbortedError);
    expect(tf.memory().numTensors).toBe(before);
    // a loss that fails inside the tape (after kernels saved tensors for the backward pass) leaks nothing either
    expect(() =>
      accumulateGradients(
        [1, 1],
        (m) => {
          const y = tf.exp(tf.mul(v, 3)); // saved for the backward pass
          if (m === 1) throw new Error('forward failed');
          return tf.sum(y) as tf.Scalar;
        },
        { variables: [v] },
      ),
    ).toThrow('forward failed');
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
  });
});
