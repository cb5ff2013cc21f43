/**
 * useBackend('wasm', { threads: 2 }) starts tfjs's threaded SIMD build in Node (this file runs in its own process:
 * the wasm module is a process-global singleton). Results equal tfjs-cpu's; a later call with another thread count
 * rebuilds the backend only while no tensor lives on it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { Rng } from '@erase/core';
import { useBackend } from '../../src/backend/index';
import { randomArray, relativeError, runOn } from './helpers';

describe('wasm with 2 threads in Node', () => {
  it('runs the threaded SIMD build with 2 XNNPACK threads', async () => {
    const warnings: string[] = [];
    const info = await useBackend('wasm', { threads: 2, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(info).toEqual({ name: 'wasm', tfjsName: 'wasm', threads: 2, simd: true });
    expect(getThreadsCount()).toBe(2);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('computes a matmul and a conv equal to tfjs-cpu', async () => {
    const rng = new Rng(31);
    const a = randomArray(rng, 96 * 80);
    const b = randomArray(rng, 80 * 72);
    const x = randomArray(rng, 2 * 12 * 12 * 16);
    const w = randomArray(rng, 3 * 3 * 16 * 24);
    const f = () =>
      tf.tidy(() => {
        const product = tf.matMul(tf.tensor2d(a, [96, 80]), tf.tensor2d(b, [80, 72])); // [96, 72]
        const conv = tf.conv2d(tf.tensor4d(x, [2, 12, 12, 16]), tf.tensor4d(w, [3, 3, 16, 24]), 1, 'same'); // [2, 12, 12, 24]
        return tf.concat([tf.reshape(product, [-1]), tf.reshape(conv, [-1])]);
      });
    await useBackend('cpu'); // consumes tfjs-cpu's Node banner
    const expected = await runOn('cpu', f);
    const actual = await runOn('wasm', f);
    const { error, report } = relativeError(actual.values, expected.values);
    expect(error, report).toBeLessThanOrEqual(1e-5);
  });

  it('runs the registered gradient kernels on the shared heap, equal to tfjs-cpu', async () => {
    const { ensureGradients } = await import('@erase/core');
    await ensureGradients();
    const rng = new Rng(32);
    const x = randomArray(rng, 2 * 9 * 7 * 5);
    const w = randomArray(rng, 3 * 3 * 5 * 6);
    const table = randomArray(rng, 7 * 4);
    const f = () =>
      tf.tidy(() => {
        const loss = (xs: tf.Tensor, ws: tf.Tensor, t: tf.Tensor) =>
          tf.add(
            tf.sum(tf.square(tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, 2, 'same'))),
            tf.sum(tf.square(tf.gather(t, tf.tensor1d([1, 5, 1], 'int32')))),
          );
        const grads = tf.grads(loss)([tf.tensor4d(x, [2, 9, 7, 5]), tf.tensor4d(w, [3, 3, 5, 6]), tf.tensor2d(table, [7, 4])]);
        return tf.concat(grads.map((g) => tf.reshape(g, [-1])));
      });
    const expected = await runOn('cpu', f);
    const actual = await runOn('wasm', f);
    const { error, report } = relativeError(actual.values, expected.values);
    expect(error, report).toBeLessThanOrEqual(1e-5);
  });

  it('keeps its threads while tensors live on it, and restarts with 1 thread once they are gone', async () => {
    await tf.setBackend('wasm');
    const held = tf.ones([4]);
    const warnings: string[] = [];
    const kept = await useBackend('wasm', { threads: 1, warn: (m) => warnings.push(m) });
    expect(kept.threads).toBe(2);
    expect(warnings.join('\n')).toMatch(/cannot be restarted with 1 thread/);
    held.dispose();
    const restarted = await useBackend('wasm', { threads: 1, warn: (m) => warnings.push(m) });
    expect(restarted.threads).toBe(1);
    const sum = tf.sum(tf.tensor1d([1, 2, 3]));
    expect((await sum.data())[0]).toBe(6);
    sum.dispose();
  });
});
