import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, Rng, ShapeMismatchError, ensureGradients } from '@erase/core';
import { gumbelSoftmax, gumbelSoftmaxWithNoise, sampleGumbelNoise } from './gumbel-softmax';
import { softmax, useBackend } from '../test-utils';

const C = 5;
const TAU = 2;

/** Host float64 soft sample softmax((π + g)/τ). */
function soft(logits: ArrayLike<number>, noise: ArrayLike<number>, tau: number): Float64Array {
  return softmax(Float64Array.from({ length: logits.length }, (_, i) => ((logits[i] as number) + (noise[i] as number)) / tau));
}

/** Central finite differences of φ at π, float64. */
function finiteDifference(phi: (p: Float64Array) => number, at: ArrayLike<number>, h = 1e-5): Float64Array {
  return Float64Array.from({ length: at.length }, (_, i) => {
    const plus = Float64Array.from(at);
    const minus = Float64Array.from(at);
    plus[i] = (plus[i] as number) + h;
    minus[i] = (minus[i] as number) - h;
    return (phi(plus) - phi(minus)) / (2 * h);
  });
}

describe('sampleGumbelNoise', () => {
  it('draws Gumbel(0, 1): mean ≈ Euler–Mascheroni γ, variance ≈ π²/6; deterministic per stream', () => {
    const g = sampleGumbelNoise(40_000, new Rng(1));
    const mean = g.reduce((a, b) => a + b, 0) / g.length;
    const variance = g.reduce((a, b) => a + (b - mean) ** 2, 0) / g.length;
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan(0.03);
    expect(Math.abs(variance - Math.PI ** 2 / 6)).toBeLessThan(0.08);
    expect(Array.from(sampleGumbelNoise(10, new Rng(3)))).toEqual(Array.from(sampleGumbelNoise(10, new Rng(3))));
  });
});

describe.each(['cpu', 'wasm'])('gumbelSoftmax (%s)', (backend) => {
  beforeAll(async () => {
    await ensureGradients();
    await useBackend(backend);
  });

  const logitValues = [0.3, -1.2, 0.8, 0.1, -0.4];

  it('soft sample is softmax((π + g)/τ) with the rng noise; hard sample is its argmax one-hot', async () => {
    const logits = tf.tensor1d(logitValues);
    const noise = sampleGumbelNoise(C, new Rng(17));
    const expected = soft(logitValues, noise, TAU);
    const ySoft = gumbelSoftmax(logits, TAU, false, new Rng(17));
    const values = await ySoft.data();
    expected.forEach((p, i) => expect(values[i]).toBeCloseTo(p, 6));
    tf.dispose(ySoft);
    const argmaxes = new Set<number>();
    for (let seed = 0; seed < 12; seed++) {
      const p = soft(logitValues, sampleGumbelNoise(C, new Rng(seed)), TAU);
      const argmax = p.indexOf(Math.max(...p));
      argmaxes.add(argmax);
      const yHard = gumbelSoftmax(logits, TAU, true, new Rng(seed));
      expect(yHard.shape).toEqual([C]);
      expect(Array.from(await yHard.data())).toEqual(Array.from({ length: C }, (_, i) => (i === argmax ? 1 : 0)));
      yHard.dispose();
    }
    expect(argmaxes.size).toBeGreaterThan(1); // the noise moves the argmax
    logits.dispose();
  });

  it('works on a batch [B, C] (one sample per row)', async () => {
    const logits = tf.tensor2d([...logitValues, ...logitValues.map((x) => -x)], [2, C]);
    const y = gumbelSoftmax(logits, TAU, true, new Rng(2));
    expect(y.shape).toEqual([2, C]);
    const rows = (await y.array()) as number[][];
    for (const r of rows) {
      expect(r.reduce((a, b) => a + b, 0)).toBe(1);
      expect(r.filter((x) => x === 1)).toHaveLength(1);
    }
    tf.dispose([logits, y]);
  });

  it('straight-through gradient of a linear loss equals finite differences of the soft relaxation', async () => {
    const noiseValues = sampleGumbelNoise(C, new Rng(5));
    const w = [0.7, -0.2, 1.5, 0.3, -1.1];
    const logits = tf.tensor1d(logitValues);
    const noise = tf.tensor1d(noiseValues);
    const weights = tf.tensor1d(w);
    const gradient = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(weights, gumbelSoftmaxWithNoise(p, noise, TAU, true))))(logits);
    const got = await gradient.data();
    const phi = (p: Float64Array): number => soft(p, noiseValues, TAU).reduce((s, y, i) => s + (w[i] as number) * y, 0);
    const expected = finiteDifference(phi, logitValues);
    expected.forEach((g, i) => expect(Math.abs((got[i] as number) - g)).toBeLessThan(1e-5));
    expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(1e-2); // not a vacuous comparison
    tf.dispose([logits, noise, weights, gradient]);
  });

  it('straight-through gradient of a nonlinear loss is the soft Jacobian applied to the loss gradient at the hard sample', async () => {
    // L(y) = ‖y·E − t‖², c_a = y·E with E [C, 3]: ∂L/∂π = J_softᵀ · ∇_y L(y_hard).
    const noiseValues = sampleGumbelNoise(C, new Rng(8));
    const eRows = [
      [1, 0, 2],
      [0.5, -1, 0],
      [-1, 1, 1],
      [2, 2, -1],
      [0, 0.3, 0.6],
    ];
    const target = [0.2, -0.4, 1];
    const logits = tf.tensor1d(logitValues);
    const noise = tf.tensor1d(noiseValues);
    const embeddings = tf.tensor2d(eRows);
    const t = tf.tensor1d(target);
    const gradient = tf.grad((p: tf.Tensor) => {
      const y = gumbelSoftmaxWithNoise(p, noise, TAU, true); // [C]
      const ca = tf.reshape(tf.matMul(tf.reshape(y, [1, C]), embeddings), [3]); // [1, C] x [C, 3] -> [3]
      return tf.sum(tf.square(tf.sub(ca, t)));
    })(logits);
    const got = await gradient.data();
    const ySoft = soft(logitValues, noiseValues, TAU);
    const hardIndex = ySoft.indexOf(Math.max(...ySoft));
    const residual = target.map((tk, k) => 2 * ((eRows[hardIndex]![k] as number) - tk)); // ∇_c L at c = E[hard]
    const upstream = eRows.map((r) => r.reduce((s, x, k) => s + x * (residual[k] as number), 0)); // ∇_y L = E · ∇_c L
    const phi = (p: Float64Array): number => soft(p, noiseValues, TAU).reduce((s, y, i) => s + (upstream[i] as number) * y, 0);
    const expected = finiteDifference(phi, logitValues);
    expected.forEach((g, i) => expect(Math.abs((got[i] as number) - g)).toBeLessThan(1e-4));
    tf.dispose([logits, noise, embeddings, t, gradient]);
  });

  it('soft sample gradient matches finite differences too', async () => {
    const noiseValues = sampleGumbelNoise(C, new Rng(6));
    const w = [1, 2, -1, 0.5, 0];
    const logits = tf.tensor1d(logitValues);
    const noise = tf.tensor1d(noiseValues);
    const weights = tf.tensor1d(w);
    const gradient = tf.grad((p: tf.Tensor) => tf.sum(tf.square(tf.mul(weights, gumbelSoftmaxWithNoise(p, noise, TAU, false)))))(logits);
    const got = await gradient.data();
    const phi = (p: Float64Array): number => soft(p, noiseValues, TAU).reduce((s, y, i) => s + ((w[i] as number) * y) ** 2, 0);
    finiteDifference(phi, logitValues).forEach((g, i) => expect(Math.abs((got[i] as number) - g)).toBeLessThan(1e-5));
    tf.dispose([logits, noise, weights, gradient]);
  });

  it('leaks no tensor (forward and under tf.grad) and validates its inputs', async () => {
    const logits = tf.tensor1d(logitValues);
    const before = tf.memory().numTensors;
    const y = gumbelSoftmax(logits, TAU, true, new Rng(1));
    expect(tf.memory().numTensors).toBe(before + 1);
    y.dispose();
    const g = tf.grad((p: tf.Tensor) => tf.sum(gumbelSoftmax(p, TAU, true, new Rng(1))))(logits);
    expect(tf.memory().numTensors).toBe(before + 1);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const noise = tf.tensor1d(sampleGumbelNoise(C, new Rng(2)));
    for (const hard of [true, false]) {
      const withNoise = gumbelSoftmaxWithNoise(logits, noise, TAU, hard);
      expect(tf.memory().numTensors).toBe(before + 2);
      withNoise.dispose();
    }
    noise.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => gumbelSoftmax(logits, 0, true, new Rng(1))).toThrow(InvalidOptionError);
    expect(() => gumbelSoftmax(logits, TAU, 1 as unknown as boolean, new Rng(1))).toThrow(InvalidOptionError);
    const wrongNoise = tf.zeros([C + 1]);
    expect(() => gumbelSoftmaxWithNoise(logits, wrongNoise, TAU, true)).toThrow(ShapeMismatchError);
    const scalar = tf.scalar(1);
    expect(() => gumbelSoftmax(scalar, TAU, true, new Rng(1))).toThrow(ShapeMismatchError);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([logits, wrongNoise, scalar]);
  });
});
