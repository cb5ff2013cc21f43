// Tests of oracle training on cpu with tiny settings (the loss goes down, no leaks, the cosine schedule), AdamW
// against hand-computed steps, and the accuracy helper with fake classifiers.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError, type ProgressEvent } from '@erase/core';
import { generateShapes } from '../generator/generate';
import { CLASS_NAMES } from '../world/vocabulary';
import { evaluateAccuracy, type ImageClassifierLike } from './accuracy';
import { AdamW } from '@erase/core';
import { trainOracle } from './train-oracle';

describe('trainOracle', () => {
  it('on wasm, 30 tiny steps lower the loss, follow the cosine schedule and leak nothing', async () => {
    await tf.setBackend('wasm'); // ~25× faster than tfjs-cpu for this network; cpu = wasm is checked below
    const data = generateShapes({ count: 64, seed: 21, size: 8 });
    const start = tf.memory().numTensors;
    const events: ProgressEvent[] = [];
    const { oracle, losses } = await trainOracle({ data, steps: 30, batchSize: 16, seed: 1, onProgress: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(start + oracle.variables().size);
    expect(losses.length).toBe(30);
    expect(losses.every(Number.isFinite)).toBe(true);
    const mean = (xs: Float32Array): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.subarray(0, 5));
    const last = mean(losses.subarray(25));
    expect(first).toBeGreaterThan(1.8); // ≈ ln 10 = 2.30 for an untrained 10-way classifier
    expect(last, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`).toBeLessThan(0.75 * first);
    // η_t = η ½ (1 + cos(π t / T)): 3e-3 at t = 0, 1.5e-3 at t = T/2
    expect(events.length).toBe(30);
    expect(events[0]!.metrics!.lr).toBeCloseTo(3e-3, 12);
    expect(events[15]!.metrics!.lr).toBeCloseTo(1.5e-3, 12);
    expect(events[29]!.step).toBe(30);
    oracle.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('is deterministic on cpu for a fixed seed', async () => {
    await tf.setBackend('cpu');
    const data = generateShapes({ count: 32, seed: 22, size: 8 });
    const a = await trainOracle({ data, steps: 3, batchSize: 8, seed: 5 });
    const b = await trainOracle({ data, steps: 3, batchSize: 8, seed: 5 });
    expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
    a.oracle.dispose();
    b.oracle.dispose();
  });

  it('rejects bad options', async () => {
    await tf.setBackend('cpu');
    await expect(trainOracle({ steps: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(trainOracle({ batchSize: 2.5 })).rejects.toThrow(/`batchSize`/);
    await expect(trainOracle({ learningRate: -1 })).rejects.toThrow(/`learningRate`/);
    await expect(trainOracle({ maxNoiseStd: -0.1 })).rejects.toThrow(/`maxNoiseStd`/);
  });

  it('trains on wasm too (no Conv2DBackpropFilter kernel needed), with the cpu losses', async () => {
    const data = generateShapes({ count: 16, seed: 25, size: 8 });
    const losses: Float32Array[] = [];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const { oracle, losses: l } = await trainOracle({ data, steps: 3, batchSize: 8, seed: 6 });
      losses.push(l);
      oracle.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    await tf.setBackend('cpu');
    for (let i = 0; i < 3; i++) expect(Math.abs(losses[0]![i]! - losses[1]![i]!)).toBeLessThan(1e-3);
  });

  it('stops with AbortedError when the signal fires, disposing the oracle it made', async () => {
    await tf.setBackend('cpu');
    const data = generateShapes({ count: 8, seed: 23, size: 8 });
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const run = trainOracle({ data, steps: 50, batchSize: 4, onProgress: (e) => e.step === 2 && controller.abort(), signal: controller.signal });
    await expect(run).rejects.toSatisfy((e: unknown) => AbortedError.isInstance(e)); // ours, not Node's AbortError
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('AdamW', () => {
  it('matches two hand-computed steps (decoupled decay, bias correction)', async () => {
    await tf.setBackend('cpu');
    const theta = tf.variable(tf.tensor1d([1, -2]));
    const optimizer = new AdamW([theta], { weightDecay: 0.01 });
    const before = tf.memory().numTensors;
    const g1 = tf.tensor1d([0.5, 0.5]);
    optimizer.step({ [theta.name]: g1 }, 0.1);
    // step 1: m̂ = g, v̂ = g², so the Adam step is η·sign(g) (up to ε): θ(1 − ηλ) − η
    const after1 = Array.from(await theta.data());
    expect(after1[0]).toBeCloseTo(1 * (1 - 0.001) - 0.1, 6);
    expect(after1[1]).toBeCloseTo(-2 * (1 - 0.001) - 0.1, 6);
    const g2 = tf.tensor1d([-1, 0.5]);
    optimizer.step({ [theta.name]: g2 }, 0.1);
    // step 2, element 0: m = 0.9·0.05 + 0.1·(−1)·… written out: m1 = 0.05, v1 = 0.00025; m2 = 0.045 − 0.1 = −0.055,
    // v2 = 0.999·0.00025 + 0.001·1 = 0.00124975; m̂ = −0.055/0.19, v̂ = 0.00124975/0.001999
    const mHat = -0.055 / (1 - 0.81);
    const vHat = 0.00124975 / (1 - 0.998001);
    const expected0 = (after1[0] as number) * (1 - 0.001) - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
    expect((await theta.data())[0]).toBeCloseTo(expected0, 5);
    tf.dispose([g1, g2]);
    expect(tf.memory().numTensors).toBe(before); // steps allocate nothing that outlives them
    optimizer.dispose();
    theta.dispose();
    expect(() => new AdamW([], { beta1: 1 })).toThrow(InvalidOptionError);
  });
});

describe('evaluateAccuracy', () => {
  const batch = generateShapes({ count: 50, seed: 24 });
  const oneHotClassifier = (pick: (label: number, index: number) => number): ImageClassifierLike => {
    let offset = 0;
    return {
      classNames: CLASS_NAMES,
      classify(images: tf.Tensor4D): tf.Tensor2D {
        const count = images.shape[0];
        const predicted = Array.from({ length: count }, (_, i) => pick(batch.labels[offset + i] as number, offset + i));
        offset += count;
        return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(predicted, 'int32'), 10), 'float32')) as tf.Tensor2D;
      },
    };
  };

  it('scores a perfect classifier 1 and a constant one by the class frequency, with a consistent confusion matrix', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const perfect = await evaluateAccuracy(oneHotClassifier((label) => label), batch, { batchSize: 16 });
    expect(perfect.accuracy).toBe(1);
    expect(perfect.count).toBe(50);
    const constant = await evaluateAccuracy(oneHotClassifier(() => 0), batch, { batchSize: 7 });
    const zeros = Array.from(batch.labels).filter((l) => l === 0).length;
    expect(constant.accuracy).toBeCloseTo(zeros / 50, 12);
    expect(constant.perClass[0]).toBe(1);
    expect(constant.perClass.slice(1).every((a) => a === 0 || Number.isNaN(a))).toBe(true);
    expect(constant.confusion.map((row) => row[0])).toEqual(CLASS_NAMES.map((_, k) => Array.from(batch.labels).filter((l) => l === k).length));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a classifier over other classes and a bad batch size', async () => {
    await tf.setBackend('cpu');
    const other: ImageClassifierLike = { classNames: ['cat', 'dog'], classify: () => tf.zeros([1, 2]) as tf.Tensor2D };
    await expect(evaluateAccuracy(other, batch)).rejects.toThrow(InvalidOptionError);
    await expect(evaluateAccuracy(oneHotClassifier((l) => l), batch, { batchSize: 0 })).rejects.toThrow(/`batchSize`/);
  });
});
