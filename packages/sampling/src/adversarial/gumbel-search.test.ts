import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, Rng, ShapeMismatchError, ensureGradients } from '@erase/core';
import { GumbelConceptSearch } from './gumbel-search';
import { sampleGumbelNoise } from './gumbel-softmax';
import { softmax, useBackend } from '../test-utils';

// C = 4 candidate "words", each embedded as [T = 2, D = 3].
const C = 4;
const T = 2;
const D = 3;
const rows = [
  [1, 0, 0, 0, 1, 0],
  [0, 1, 0, 1, 0, 0],
  [2, 1, 1, 0, 1, 2],
  [-1, 0, 1, 0, 0, 0],
];
const direction = [1, 1, 0, 0, 1, 1]; // loss = ⟨c_a, direction⟩: row 2 scores 6, the best
const score = rows.map((r) => r.reduce((s, x, k) => s + x * (direction[k] as number), 0));

describe.each(['cpu', 'wasm'])('GumbelConceptSearch (%s)', (backend) => {
  beforeAll(async () => {
    await ensureGradients();
    await useBackend(backend);
  });

  const linearLoss = (dir: tf.Tensor) => (ca: tf.Tensor) => tf.sum(tf.mul(ca, dir)) as tf.Scalar;

  it('starts uniform; one step is Adam ascent on the straight-through gradient of the sampled loss', async () => {
    const embeddings = tf.tensor3d(rows.flat(), [C, T, D]);
    const dir = tf.tensor2d(direction, [T, D]);
    const lr = 0.05;
    const search = new GumbelConceptSearch(embeddings, { seed: 3, learningRate: lr, candidateIndices: [10, 20, 30, 40] });
    expect(Array.from(search.distribution())).toEqual([0.25, 0.25, 0.25, 0.25]);
    const step = await search.step(linearLoss(dir));
    // Independent host computation with the same noise stream.
    const noise = sampleGumbelNoise(C, new Rng(3));
    const logits = new Array<number>(C).fill(1 / C);
    const y = softmax(logits.map((l, i) => (l + (noise[i] as number)) / 2));
    const sampled = y.indexOf(Math.max(...y));
    expect(step.candidate).toBe(sampled);
    expect(step.index).toBe([10, 20, 30, 40][sampled]);
    expect(step.loss).toBeCloseTo(score[sampled] as number, 5); // hard forward: c_a is exactly one row
    // ∂L/∂π = J_softᵀ · score / τ-scaled softmax Jacobian: y ⊙ (s − ⟨s, y⟩) / τ. Adam's first step moves each
    // logit by lr·g/(|g| + ε) in the ascent direction.
    const mean = y.reduce((s, p, i) => s + p * (score[i] as number), 0);
    const gradient = y.map((p, i) => (p * ((score[i] as number) - mean)) / 2);
    const after = search.logitValues();
    gradient.forEach((g, i) => expect(after[i]).toBeCloseTo(1 / C + (lr * g) / (Math.abs(g) + 1e-8), 5));
    search.dispose();
    tf.dispose([embeddings, dir]);
  });

  it('maximizes the loss: the distribution concentrates on the best candidate', async () => {
    const embeddings = tf.tensor2d(rows.flat(), [C, T * D]); // [C, F] layout
    const dir = tf.tensor1d(direction);
    const search = new GumbelConceptSearch(embeddings, { seed: 1, learningRate: 0.1, candidateIndices: [7, 8, 9, 5] });
    for (let i = 0; i < 60; i++) await search.step(linearLoss(dir));
    expect(search.bestCandidate()).toBe(2);
    expect(search.bestIndex()).toBe(9);
    expect(search.distribution()[2]).toBeGreaterThan(0.5);
    const best = search.bestEmbedding();
    expect(best.shape).toEqual([T * D]);
    expect(Array.from(await best.data())).toEqual(rows[2]);
    best.dispose();
    search.dispose();
    tf.dispose([embeddings, dir]);
  });

  it('sample() gives the model update a c_a shaped like one candidate', async () => {
    const embeddings = tf.tensor3d(rows.flat(), [C, T, D]);
    const search = new GumbelConceptSearch(embeddings, { seed: 2 });
    const { embedding, candidate, index } = await search.sample();
    expect(embedding.shape).toEqual([T, D]);
    expect(Array.from(await embedding.data())).toEqual(rows[candidate]);
    expect(index).toBe(candidate);
    embedding.dispose();
    search.dispose();
    embeddings.dispose();
  });

  it('leaks no tensor across construction, steps, samples and dispose; never disposes the caller tensors', async () => {
    const embeddings = tf.tensor3d(rows.flat(), [C, T, D]);
    const dir = tf.tensor2d(direction, [T, D]);
    const before = tf.memory().numTensors;
    const search = new GumbelConceptSearch(embeddings);
    await search.step(linearLoss(dir));
    await search.step(linearLoss(dir));
    const { embedding } = await search.sample();
    const best = search.bestEmbedding();
    tf.dispose([embedding, best]);
    // A loss that throws or returns a non-scalar leaks nothing either.
    await expect(search.step(() => { throw new Error('model failed'); })).rejects.toThrow('model failed');
    await expect(search.step((ca) => tf.mul(ca, 2) as unknown as tf.Scalar)).rejects.toSatisfy(
      (e: unknown) => InvalidOptionError.isInstance(e) && e.option === 'lossOf',
    );
    // a NaN loss is refused and leaves the logits as they were (the variable itself, not only the host copy)
    const logitsVariable = (): number[] => Array.from((search as unknown as { logits: tf.Variable }).logits.dataSync());
    const logitsBefore = logitsVariable();
    await expect(search.step((ca) => tf.mul(tf.sum(ca), Number.NaN) as tf.Scalar)).rejects.toSatisfy((e: unknown) => InvalidOptionError.isInstance(e) && e.option === 'lossOf');
    await expect(search.step((ca) => tf.log(tf.sub(tf.sum(ca), 1e9)) as tf.Scalar)).rejects.toSatisfy((e: unknown) => InvalidOptionError.isInstance(e));
    expect(logitsVariable()).toEqual(logitsBefore);
    expect(search.distribution().every(Number.isFinite)).toBe(true);
    search.dispose();
    search.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(embeddings.isDisposed).toBe(false);
    await expect(search.step(linearLoss(dir))).rejects.toThrow(InvalidOptionError);
    tf.dispose([embeddings, dir]);
  });

  it('validates its inputs', () => {
    const embeddings = tf.tensor3d(rows.flat(), [C, T, D]);
    const flat = tf.tensor1d([1, 2, 3]);
    expect(() => new GumbelConceptSearch(flat)).toThrow(ShapeMismatchError);
    expect(() => new GumbelConceptSearch(embeddings, { tau: 0 })).toThrow(InvalidOptionError);
    expect(() => new GumbelConceptSearch(embeddings, { learningRate: -1 })).toThrow(InvalidOptionError);
    expect(() => new GumbelConceptSearch(embeddings, { candidateIndices: [1, 2] })).toThrow(InvalidOptionError);
    tf.dispose([embeddings, flat]);
  });
});
