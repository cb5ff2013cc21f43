import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors/errors';
import { AdamW } from './adamw';
import { clipGlobalNorm } from './clip-grad-norm';

/** torch.optim.AdamW written out in float64 for one scalar parameter sequence. */
function referenceAdamW(theta: number, grads: readonly number[], lrs: readonly number[], decay: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number {
  let m = 0;
  let v = 0;
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k] as number;
    theta -= lr * decay * theta;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    theta -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  });
  return theta;
}

describe.each(['cpu', 'wasm'])('AdamW and clipGlobalNorm (%s)', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('AdamW matches torch.optim.AdamW over three steps with changing learning rates, and leaks nothing', () => {
    const start = [0.5, -1.25, 2];
    const grads = [[0.1, -0.3, 0.02], [0.4, 0.2, -0.5], [-0.05, 0.6, 0.3]];
    const lrs = [1e-2, 5e-3, 2e-2];
    const w = tf.variable(tf.tensor1d(start), true, 'adamw-test-w');
    const before = tf.memory().numTensors;
    const optimizer = new AdamW([w], { weightDecay: 0.1 });
    grads.forEach((g, k) => {
      const gradient = tf.tensor1d(g);
      optimizer.step({ [w.name]: gradient }, lrs[k] as number);
      gradient.dispose();
    });
    expect(optimizer.stepCount).toBe(3);
    const got = w.dataSync();
    start.forEach((s, i) => {
      expect(got[i]).toBeCloseTo(referenceAdamW(s, grads.map((g) => g[i] as number), lrs, 0.1), 6);
    });
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
  });

  it('AdamW rejects hyper-parameters out of range, naming them', () => {
    const w = tf.variable(tf.zeros([2]), true, 'adamw-test-bad');
    expect(() => new AdamW([w], { beta1: 1 })).toThrow(InvalidOptionError);
    expect(() => new AdamW([w], { weightDecay: -1 })).toThrow(/weightDecay/);
    w.dispose();
  });

  it('clipGlobalNorm returns ‖g‖ over all tensors and rescales only above the limit, leaking nothing', () => {
    const before = tf.memory().numTensors;
    const grads: tf.NamedTensorMap = { a: tf.tensor1d([3, 0]), b: tf.tensor2d([[0, 4]]) }; // ‖g‖ = 5
    expect(clipGlobalNorm(grads, 10)).toBeCloseTo(5, 6);
    expect([...(grads.a as tf.Tensor).dataSync()]).toEqual([3, 0]); // below the limit: untouched
    expect(clipGlobalNorm(grads, 1)).toBeCloseTo(5, 6);
    const scale = 1 / (5 + 1e-6);
    expect((grads.a as tf.Tensor).dataSync()[0]).toBeCloseTo(3 * scale, 6);
    expect((grads.b as tf.Tensor).dataSync()[1]).toBeCloseTo(4 * scale, 6);
    expect(clipGlobalNorm(grads, 0)).toBeCloseTo(1, 5); // 0 disables clipping
    expect(clipGlobalNorm({}, 1)).toBe(0);
    tf.dispose(Object.values(grads));
    expect(tf.memory().numTensors).toBe(before);
  });
});
