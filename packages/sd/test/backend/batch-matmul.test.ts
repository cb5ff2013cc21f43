/** The wasm BatchMatMul wrapper (explicit transposes) against tfjs-cpu, every transpose combination, 2-D and 3-D. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@erase/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/backend/index';
import { randomArray, relativeError, runOn } from './helpers';

describe('BatchMatMul on wasm with transposed operands', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
  });

  const cases: [string, number[], number[], boolean, boolean][] = [
    ['2-D aᵀb', [37, 5], [37, 11], true, false],
    ['2-D abᵀ', [5, 37], [11, 37], false, true],
    ['2-D aᵀbᵀ', [37, 5], [11, 37], true, true],
    ['3-D aᵀb', [3, 9, 4], [3, 9, 6], true, false],
    ['3-D abᵀ', [3, 4, 9], [3, 6, 9], false, true],
    ['3-D plain', [3, 4, 9], [3, 9, 6], false, false],
  ];
  it.each(cases)('%s equals tfjs-cpu (relative error ≤ 1e-5) and frees its temporaries', async (_, aShape, bShape, ta, tb) => {
    const rng = new Rng(aShape.length * 100 + aShape[0]!);
    const a = randomArray(rng, aShape.reduce((x, y) => x * y, 1));
    const b = randomArray(rng, bShape.reduce((x, y) => x * y, 1));
    const product = (): tf.Tensor => tf.tidy(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb));
    const expected = await runOn('cpu', product);
    const before = tf.memory().numTensors;
    const actual = await runOn('wasm', product);
    expect(tf.memory().numTensors).toBe(before);
    expect(actual.shape).toEqual(expected.shape);
    const { error, report } = relativeError(actual.values, expected.values);
    expect(error, report).toBeLessThanOrEqual(1e-5);
  });
});
