/** useBackend('wasm', { threads: 1 }) runs tfjs's single-threaded SIMD build (own process: wasm is a singleton). */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backend/index';

describe('wasm with 1 thread', () => {
  it('starts without workers and reports 1 thread', async () => {
    const warnings: string[] = [];
    const info = await useBackend('wasm', { threads: 1, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(info).toEqual({ name: 'wasm', tfjsName: 'wasm', threads: 1, simd: true });
    expect(getThreadsCount()).toBe(1);
    const backend = tf.backend() as unknown as { wasm: { PThread?: unknown } };
    expect(backend.wasm.PThread).toBeUndefined(); // the non-threaded module
    const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
    expect(Array.from(await y.data())).toEqual([19, 22, 43, 50]);
    y.dispose();
  });
});
