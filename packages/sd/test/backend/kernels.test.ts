/**
 * The wasm kernels registered by registerWasmTrainingKernels, each against tfjs-cpu's kernel on random shapes
 * (relative error ≤ 1e-5), every strategy, plus leak checks on the wasm heap's buffer count.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, ShapeMismatchError } from '@erase/core';
import { registerWasmTrainingKernels, useBackend } from '../../src/backend/index';
import { setBackpropFilterStrategy, type BackpropFilterStrategy } from '../../src/backend/conv2d-backprop-filter';
import { setBackpropInputStrategy } from '../../src/backend/conv2d-backprop-input';
import { randomArray, relativeError, runOn } from './helpers';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  readonly name: string;
  readonly x: [number, number, number, number]; // [N, H, W, Ci]
  readonly filter: [number, number, number, number]; // [Fh, Fw, Ci, Co]
  readonly strides: [number, number];
  readonly pad: Pad;
}

const CASES: readonly ConvCase[] = [
  { name: '3x3 s1 same, odd sizes', x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
  { name: '3x3 s1 explicit 1', x: [2, 6, 7, 3], filter: [3, 3, 3, 2], strides: [1, 1], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { name: '3x3 s1 valid', x: [1, 8, 7, 5], filter: [3, 3, 5, 3], strides: [1, 1], pad: 'valid' },
  { name: '2x2 s1 same (uneven pad)', x: [1, 7, 7, 2], filter: [2, 2, 2, 3], strides: [1, 1], pad: 'same' },
  { name: '1x1 s1 valid', x: [2, 6, 5, 4], filter: [1, 1, 4, 5], strides: [1, 1], pad: 'valid' },
  { name: '3x3 s2 same, even', x: [1, 8, 8, 5], filter: [3, 3, 5, 6], strides: [2, 2], pad: 'same' },
  { name: '3x3 s2 same, odd', x: [2, 9, 7, 3], filter: [3, 3, 3, 4], strides: [2, 2], pad: 'same' },
  { name: '3x3 s2 valid, odd', x: [2, 9, 7, 4], filter: [3, 3, 4, 3], strides: [2, 2], pad: 'valid' },
  { name: '3x3 s2 diffusers downsample pad (0,1)', x: [1, 8, 8, 4], filter: [3, 3, 4, 4], strides: [2, 2], pad: [[0, 0], [0, 1], [0, 1], [0, 0]] },
  { name: '1x1 s2 same', x: [2, 5, 5, 3], filter: [1, 1, 3, 2], strides: [2, 2], pad: 'same' },
  { name: '3x2 strides (1,2) valid', x: [1, 5, 6, 3], filter: [3, 2, 3, 2], strides: [1, 2], pad: 'valid' },
  { name: '2x2 s1 pad 2 (wider than the filter)', x: [1, 4, 4, 2], filter: [2, 2, 2, 2], strides: [1, 1], pad: [[0, 0], [2, 2], [2, 2], [0, 0]] },
];

const TOLERANCE = 1e-5;
let wasmBackend: BackendWasm;

beforeAll(async () => {
  await useBackend('cpu');
  await useBackend('wasm', { threads: 1 });
  wasmBackend = tf.backend() as BackendWasm;
});

function outShape(c: ConvCase): number[] {
  return tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape);
}

function filterGradient(c: ConvCase, x: Float32Array, dy: Float32Array, dyShape: number[]): tf.Tensor {
  return tf.tidy(() =>
    tf.engine().runKernel(
      tf.Conv2DBackpropFilter,
      { x: tf.tensor(x, c.x), dy: tf.tensor(dy, dyShape) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor,
  );
}

function inputGradient(c: ConvCase, dy: Float32Array, dyShape: number[], filter: Float32Array): tf.Tensor {
  return tf.tidy(() =>
    tf.engine().runKernel(
      tf.Conv2DBackpropInput,
      { dy: tf.tensor(dy, dyShape), filter: tf.tensor(filter, c.filter) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor,
  );
}

describe('registerWasmTrainingKernels', () => {
  it('is idempotent and registers the four kernels for wasm', () => {
    expect(registerWasmTrainingKernels()).toEqual([]); // useBackend('wasm') already registered them
    for (const name of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.UnsortedSegmentSum, tf.Identity]) {
      expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    }
  });
});

describe.each(['auto', 'swapped-conv', 'im2col'] as BackpropFilterStrategy[])('wasm Conv2DBackpropFilter (%s)', (strategy) => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s matches tfjs-cpu', async (_name, c) => {
    const rng = new Rng(11);
    const dyShape = outShape(c);
    const x = randomArray(rng, tf.util.sizeFromShape(c.x));
    const dy = randomArray(rng, tf.util.sizeFromShape(dyShape));
    const expected = await runOn('cpu', () => filterGradient(c, x, dy, dyShape));
    setBackpropFilterStrategy(strategy);
    try {
      const actual = await runOn('wasm', () => {
        expect(tf.getBackend()).toBe('wasm');
        return filterGradient(c, x, dy, dyShape);
      });
      expect(actual.shape).toEqual(c.filter);
      const { error, report } = relativeError(actual.values, expected.values);
      expect(error, report).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      setBackpropFilterStrategy('auto');
    }
  });
});

describe('wasm Conv2DBackpropInput (flipped conv, gemm + col2im, tfjs\'s own kernel)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s matches tfjs-cpu', async (_name, c) => {
    const rng = new Rng(12);
    const dyShape = outShape(c);
    const dy = randomArray(rng, tf.util.sizeFromShape(dyShape));
    const filter = randomArray(rng, tf.util.sizeFromShape(c.filter));
    const expected = await runOn('cpu', () => inputGradient(c, dy, dyShape, filter));
    for (const strategy of ['auto', 'flipped-conv', 'gemm', 'original'] as const) {
      setBackpropInputStrategy(strategy);
      try {
        const actual = await runOn('wasm', () => inputGradient(c, dy, dyShape, filter));
        expect(actual.shape).toEqual(c.x);
        const { error, report } = relativeError(actual.values, expected.values);
        expect(error, `${strategy}: ${report}`).toBeLessThanOrEqual(TOLERANCE);
      } finally {
        setBackpropInputStrategy('auto');
      }
    }
  });
});

describe('wasm conv kernels free their intermediates', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await tf.setBackend('wasm');
    const rng = new Rng(13);
    const dyShape = outShape(c);
    const x = tf.tensor(randomArray(rng, tf.util.sizeFromShape(c.x)), c.x);
    const filter = tf.tensor(randomArray(rng, tf.util.sizeFromShape(c.filter)), c.filter);
    const dy = tf.tensor(randomArray(rng, tf.util.sizeFromShape(dyShape)), dyShape);
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = wasmBackend.numDataIds();
    const dW = tf.engine().runKernel(
      tf.Conv2DBackpropFilter,
      { x, dy },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
    const dx = tf.engine().runKernel(
      tf.Conv2DBackpropInput,
      { dy, filter },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
    expect(tf.memory().numTensors).toBe(tensorsBefore + 2);
    expect(wasmBackend.numDataIds()).toBe(buffersBefore + 2);
    tf.dispose([x, filter, dy, dW, dx]);
  });
});

describe('wasm UnsortedSegmentSum', () => {
  it('matches tfjs-cpu with negative and out-of-range ids, float32 and int32', async () => {
    const rng = new Rng(14);
    const ids = Int32Array.from([2, 0, -1, 2, 5, 1, 0, 2, 3]);
    const values = randomArray(rng, ids.length * 3 * 2);
    const run = (dtype: 'float32' | 'int32') => () =>
      tf.tidy(() => {
        const source = dtype === 'float32' ? values : Int32Array.from(values, (v) => Math.round(v * 100));
        return tf.unsortedSegmentSum(tf.tensor(source, [ids.length, 3, 2], dtype), tf.tensor1d(ids, 'int32'), 4);
      });
    for (const dtype of ['float32', 'int32'] as const) {
      const expected = await runOn('cpu', run(dtype));
      const actual = await runOn('wasm', run(dtype));
      expect(actual.shape).toEqual([4, 3, 2]);
      const { error, report } = relativeError(actual.values, expected.values);
      expect(error, `${dtype}: ${report}`).toBeLessThanOrEqual(TOLERANCE);
    }
    // Hand check of one entry: segment 2 sums rows 0, 3 and 7 (float32 arithmetic).
    const actual = await runOn('wasm', run('float32'));
    const hand = Math.fround(Math.fround((values[0] as number) + (values[18] as number)) + (values[42] as number));
    expect(actual.values[2 * 6]).toBe(hand);
    expect(Array.from(actual.values.slice(0, 6))).not.toContain(NaN);
  });

  it('sums over multi-dimensional ids (TensorFlow semantics), checked by hand', async () => {
    await tf.setBackend('wasm');
    const out = tf.tidy(() =>
      tf.engine().runKernel(
        tf.UnsortedSegmentSum,
        { x: tf.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2]), segmentIds: tf.tensor2d([[1, 0, 1], [0, 0, 2]], [2, 3], 'int32') },
        { numSegments: 3 },
      ) as tf.Tensor,
    );
    // rows: [1,2]→1, [3,4]→0, [5,6]→1, [7,8]→0, [9,10]→0, [11,12]→2
    expect(Array.from(await out.data())).toEqual([3 + 7 + 9, 4 + 8 + 10, 1 + 5, 2 + 6, 11, 12]);
    out.dispose();
  });

  it('keeps an Inf row inside its own segment', async () => {
    await tf.setBackend('wasm');
    const out = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d([[Infinity], [1], [2]]), tf.tensor1d([0, 1, 1], 'int32'), 2));
    expect(Array.from(await out.data())).toEqual([Infinity, 3]);
    out.dispose();
  });

  it('rejects ids that are not a prefix of x.shape with ShapeMismatchError', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([4, 2]);
    const ids = tf.tensor1d([0, 1, 0], 'int32');
    expect(() => tf.unsortedSegmentSum(x, ids, 2)).toThrow(ShapeMismatchError);
    tf.dispose([x, ids]);
  });

  it('gives the gradient of an embedding lookup equal to tfjs-cpu', async () => {
    const rng = new Rng(15);
    const table = randomArray(rng, 10 * 4);
    const weights = randomArray(rng, 6 * 4);
    const ids = Int32Array.from([3, 7, 3, 0, 9, 3]);
    const grad = () =>
      tf.tidy(() => {
        const w = tf.tensor2d(weights, [6, 4]);
        const indices = tf.tensor1d(ids, 'int32');
        return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, indices), w)))(tf.tensor2d(table, [10, 4]));
      });
    const { ensureGradients } = await import('@erase/core');
    await ensureGradients();
    const expected = await runOn('cpu', grad);
    const actual = await runOn('wasm', grad);
    const { error, report } = relativeError(actual.values, expected.values);
    expect(error, report).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('wasm Identity alias', () => {
  it('clones without copying and survives disposal of the source', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1.5, -2, 3.25], [3]);
    const buffersBefore = wasmBackend.numDataIds();
    const y = tf.clone(x);
    expect(wasmBackend.numDataIds()).toBe(buffersBefore); // an alias: no new buffer
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1.5, -2, 3.25]);
    y.dispose();
    expect(wasmBackend.numDataIds()).toBe(buffersBefore - 1); // the last holder frees the buffer
  });

  it('keeps a variable and its clone independent across assign', async () => {
    await tf.setBackend('wasm');
    const v = tf.variable(tf.tensor([1, 2]));
    const snapshot = tf.clone(v);
    v.assign(tf.tensor([5, 6]));
    expect(Array.from(await snapshot.data())).toEqual([1, 2]);
    expect(Array.from(await v.data())).toEqual([5, 6]);
    tf.dispose([v, snapshot]);
  });
});
