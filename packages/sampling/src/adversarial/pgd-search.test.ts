import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, ensureGradients } from '@erase/core';
import { PGD_DEFAULTS, PgdConceptSearch, pgdAscend } from './pgd-search';
import { norm, useBackend } from '../test-utils';

const start = [0.5, -1, 2, 0.25, 1, -0.5]; // c_0 as [T = 2, D = 3]
const w = [1, 2, -1, 0.5, 0, 3];
const target = [1, 1, 1, -1, -1, -1];

describe.each(['cpu', 'wasm'])('PGD concept search (%s)', (backend) => {
  beforeAll(async () => {
    await ensureGradients();
    await useBackend(backend);
  });

  const linear = (weights: tf.Tensor) => (c: tf.Tensor) => tf.sum(tf.mul(c, weights)) as tf.Scalar;
  const concave = (t: tf.Tensor) => (c: tf.Tensor) => tf.neg(tf.sum(tf.square(tf.sub(c, t)))) as tf.Scalar;

  it('one step is c + α·g/‖g‖·‖c‖ (host check on a linear objective, g = w)', async () => {
    const c0 = tf.tensor2d(start, [2, 3]);
    const weights = tf.tensor2d(w, [2, 3]);
    const alpha = 0.1;
    const { embedding, objectives } = await pgdAscend(c0, linear(weights), { alpha, steps: 1 });
    const scale = (alpha * norm(start)) / norm(w);
    const got = await embedding.data();
    start.forEach((x, i) => expect(got[i]).toBeCloseTo(x + scale * (w[i] as number), 5));
    expect(objectives[0]).toBeCloseTo(start.reduce((s, x, i) => s + x * (w[i] as number), 0), 5);
    expect(embedding.shape).toEqual([2, 3]);
    tf.dispose([c0, weights, embedding]);
  });

  it('increases the objective on a toy concave problem', async () => {
    const c0 = tf.tensor2d(start, [2, 3]);
    const t = tf.tensor2d(target, [2, 3]);
    const { embedding, objectives } = await pgdAscend(c0, concave(t), { alpha: 0.02, steps: 40 });
    const initial = -start.reduce((s, x, i) => s + (x - (target[i] as number)) ** 2, 0);
    expect(objectives[0]).toBeCloseTo(initial, 4);
    const final = (await concave(t)(embedding).data())[0] as number;
    expect(final).toBeGreaterThan(initial + 1);
    for (let i = 1; i < 20; i++) expect(objectives[i]).toBeGreaterThan(objectives[i - 1] as number); // monotone while far away
    tf.dispose([c0, t, embedding]);
  });

  it('defaults are α = 1e-5, 100 steps, and they still ascend', async () => {
    expect(PGD_DEFAULTS).toEqual({ alpha: 1e-5, steps: 100 });
    const c0 = tf.tensor2d(start, [2, 3]);
    const weights = tf.tensor2d(w, [2, 3]);
    const { embedding, objectives } = await pgdAscend(c0, linear(weights));
    expect(objectives).toHaveLength(100);
    // Each step adds α‖c‖‖w‖ ≈ 1e-4 to a linear objective.
    const final = (await linear(weights)(embedding).data())[0] as number;
    const initial = objectives[0] as number;
    expect(final - initial).toBeGreaterThan(0.5 * 100 * 1e-5 * norm(start) * norm(w));
    tf.dispose([c0, weights, embedding]);
  });

  it('a zero gradient leaves c unchanged (no NaN)', async () => {
    const c0 = tf.tensor2d(start, [2, 3]);
    const { embedding } = await pgdAscend(c0, (c) => tf.sum(tf.mul(c, 0)) as tf.Scalar, { alpha: 0.1, steps: 3 });
    expect(Array.from(await embedding.data())).toEqual(start);
    tf.dispose([c0, embedding]);
  });

  it('PgdConceptSearch carries c_a across calls: 2 × 5 steps = 10 steps', async () => {
    const c0 = tf.tensor2d(start, [2, 3]);
    const t = tf.tensor2d(target, [2, 3]);
    const search = new PgdConceptSearch(c0, { alpha: 0.05, steps: 5 });
    const first = await search.run(concave(t));
    const second = await search.run(concave(t));
    expect(second[0]).toBeGreaterThan(first[0] as number);
    const carried = search.current();
    const direct = await pgdAscend(c0, concave(t), { alpha: 0.05, steps: 10 });
    const a = await carried.data();
    const b = await direct.embedding.data();
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i] as number, 6);
    expect(Array.from(await c0.data())).toEqual(start); // the start is copied, never moved
    tf.dispose([carried, direct.embedding]);
    search.dispose();
    tf.dispose([c0, t]);
  });

  it('leaks no tensor, also when the objective fails; validates options', async () => {
    const c0 = tf.tensor2d(start, [2, 3]);
    const weights = tf.tensor2d(w, [2, 3]);
    const before = tf.memory().numTensors;
    const result = await pgdAscend(c0, linear(weights), { alpha: 0.1, steps: 4 });
    expect(tf.memory().numTensors).toBe(before + 1);
    result.embedding.dispose();
    const search = new PgdConceptSearch(c0, { steps: 3 });
    await search.run(linear(weights));
    const current = search.current();
    current.dispose();
    search.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(pgdAscend(c0, () => { throw new Error('model failed'); }, { steps: 2 })).rejects.toThrow('model failed');
    await expect(pgdAscend(c0, (c) => tf.mul(c, 2) as unknown as tf.Scalar, { steps: 2 })).rejects.toSatisfy(
      (e: unknown) => InvalidOptionError.isInstance(e) && e.option === 'objective',
    );
    await expect(pgdAscend(c0, (c) => tf.div(tf.sum(c), 0) as tf.Scalar, { steps: 2 })).rejects.toSatisfy(
      (e: unknown) => InvalidOptionError.isInstance(e) && e.option === 'objective',
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(c0.isDisposed).toBe(false);
    await expect(pgdAscend(c0, linear(weights), { alpha: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(pgdAscend(c0, linear(weights), { steps: -1 })).rejects.toThrow(InvalidOptionError);
    tf.dispose([c0, weights]);
  });
});
