/**
 * A small conv + GroupNorm + attention + embedding network trains on wasm with the registered kernels: its
 * gradients equal tfjs-cpu's (relative error ≤ 1e-5 per variable), a few Adam steps lower the loss, no tensor
 * leaks per step. The nearest-neighbour upsample gradient is checked on wasm against a hand computation (tfjs-cpu's
 * own is wrong, docs/platform.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureGradients, Rng } from '@erase/core';
import { useBackend } from '../../src/backend/index';
import { randomArray, relativeError } from './helpers';

// Dimensions: batch B, image H × W, channels C, classes K.
const B = 2;
const H = 8;
const W = 6;
const C = 8;
const K = 5;

interface HostWeights {
  readonly [name: string]: { readonly shape: number[]; readonly values: Float32Array };
}

function hostWeights(rng: Rng): HostWeights {
  const make = (shape: number[], scale: number) => ({
    shape,
    values: randomArray(rng, tf.util.sizeFromShape(shape)).map((v) => v * scale),
  });
  return {
    convIn: make([3, 3, 3, C], 0.3),
    biasIn: make([C], 0.1),
    embedding: make([K, C], 0.5),
    down: make([3, 3, C, C], 0.15),
    qkv: make([C, 3 * C], 0.3),
    proj: make([1, 1, C, C], 0.3),
    out: make([3, 3, C, 4], 0.15),
  };
}

type Variables = Record<string, tf.Variable>;

function toVariables(weights: HostWeights): Variables {
  const vars: Variables = {};
  for (const [name, w] of Object.entries(weights)) vars[name] = tf.variable(tf.tensor(w.values, w.shape), true, `${name}-${Math.random()}`);
  return vars;
}

/** Group norm over (h, w, channels of a group) with G groups, no affine. */
function groupNorm(x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const grouped = tf.reshape(x, [b, h * w, groups, c / groups]); // [B, HW, G, C/G]
  const { mean, variance } = tf.moments(grouped, [1, 3], true); // [B, 1, G, 1]
  const normalized = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))); // [B, HW, G, C/G]
  return tf.reshape(normalized, [b, h, w, c]);
}

function forward(vars: Variables, image: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor4D {
  const v = (name: string) => vars[name] as tf.Variable;
  const filter = (name: string) => vars[name] as unknown as tf.Tensor4D;
  const [h2, w2, T] = [H / 2, W / 2, (H / 2) * (W / 2)];
  let h: tf.Tensor4D = tf.add(tf.conv2d(image, filter('convIn'), 1, 'same'), v('biasIn')); // [B, H, W, C]
  const classEmbedding = tf.gather(v('embedding'), labels); // [B, C]
  h = tf.add(h, tf.reshape(classEmbedding, [B, 1, 1, C])); // [B, H, W, C]
  h = tf.mul(h, tf.sigmoid(h)); // SiLU
  h = tf.conv2d(h, filter('down'), 2, [[0, 0], [0, 1], [0, 1], [0, 0]]); // [B, H/2, W/2, C]
  h = groupNorm(h, 2);
  const tokens = tf.reshape(h, [B * T, C]); // [B·T, C]
  const qkv = tf.reshape(tf.matMul(tokens, v('qkv')), [B, T, 3 * C]); // [B, T, 3C]
  const [q, k, val] = tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // 3 x [B, T, C]
  const scores = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(C)); // [B, T, T]
  const attended = tf.matMul(tf.softmax(scores), val); // [B, T, C]
  const projected = tf.conv2d(tf.reshape(attended, [B, h2, w2, C]) as tf.Tensor4D, filter('proj'), 1, 'valid'); // [B, H/2, W/2, C]
  h = tf.add(h, projected);
  return tf.conv2d(h, filter('out'), 1, 'same'); // [B, H/2, W/2, 4]
}

function lossOf(vars: Variables, image: tf.Tensor4D, labels: tf.Tensor1D, target: tf.Tensor4D): tf.Scalar {
  return tf.mean(tf.square(tf.sub(forward(vars, image, labels), target)));
}

interface Batch {
  readonly image: Float32Array;
  readonly labels: Int32Array;
  readonly target: Float32Array;
}

function makeBatch(rng: Rng): Batch {
  return {
    image: randomArray(rng, B * H * W * 3),
    labels: Int32Array.from([1, 3]),
    target: randomArray(rng, B * (H / 2) * (W / 2) * 4),
  };
}

async function gradientsOn(backend: 'cpu' | 'wasm', weights: HostWeights, batch: Batch) {
  await tf.setBackend(backend);
  const vars = toVariables(weights);
  const image = tf.tensor4d(batch.image, [B, H, W, 3]);
  const labels = tf.tensor1d(batch.labels, 'int32');
  const target = tf.tensor4d(batch.target, [B, H / 2, W / 2, 4]);
  const { value, grads } = tf.variableGrads(() => lossOf(vars, image, labels, target));
  const result: Record<string, Float32Array> = {};
  for (const [name, g] of Object.entries(grads)) result[name.split('-')[0] as string] = (await g.data()) as Float32Array;
  const loss = (await value.data())[0] as number;
  tf.dispose([value, ...Object.values(grads), image, labels, target, ...Object.values(vars)]);
  return { loss, grads: result };
}

beforeAll(async () => {
  await ensureGradients();
  await useBackend('cpu');
  await useBackend('wasm', { threads: 1 });
});

describe('training a conv network on wasm', () => {
  it('gets the same gradients as tfjs-cpu', async () => {
    const rng = new Rng(21);
    const weights = hostWeights(rng);
    const batch = makeBatch(rng);
    const cpu = await gradientsOn('cpu', weights, batch);
    const wasm = await gradientsOn('wasm', weights, batch);
    expect(Object.keys(wasm.grads).sort()).toEqual(Object.keys(weights).sort());
    expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
    for (const name of Object.keys(weights)) {
      const { error, report } = relativeError(wasm.grads[name] as Float32Array, cpu.grads[name] as Float32Array);
      expect(error, `${name}: ${report}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('lowers the loss in a few Adam steps without leaking tensors', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(22);
    const vars = toVariables(hostWeights(rng));
    const batch = makeBatch(rng);
    const image = tf.tensor4d(batch.image, [B, H, W, 3]);
    const labels = tf.tensor1d(batch.labels, 'int32');
    const target = tf.tensor4d(batch.target, [B, H / 2, W / 2, 4]);
    const optimizer = tf.train.adam(0.02);
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    for (let step = 0; step < 6; step++) {
      const loss = optimizer.minimize(() => lossOf(vars, image, labels, target), true, Object.values(vars)) as tf.Scalar;
      losses.push((await loss.data())[0] as number);
      loss.dispose();
      if (step === 1) tensorsAfterFirst = tf.memory().numTensors;
      if (step > 1) expect(tf.memory().numTensors, `step ${step}`).toBe(tensorsAfterFirst);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1] as number).toBeLessThan(0.8 * (losses[0] as number));
    optimizer.dispose();
    tf.dispose([image, labels, target, ...Object.values(vars)]);
  });
});

describe('nearest-neighbour upsample gradient on wasm', () => {
  it('equals the hand computation (each input pixel collects its 2 × 2 block)', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(23);
    const [n, h, w, c] = [2, 3, 5, 2];
    const x = tf.tensor4d(randomArray(rng, n * h * w * c), [n, h, w, c]);
    const upstream = randomArray(rng, n * 2 * h * 2 * w * c);
    const dyT = tf.tensor4d(upstream, [n, 2 * h, 2 * w, c]);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [2 * h, 2 * w]), dyT)))(x);
    const actual = await dx.data();
    // dx[b, i, j, k] = Σ_{a, e ∈ {0, 1}} dy[b, 2i + a, 2j + e, k]   (diffusers' F.interpolate(scale_factor=2))
    const hand = new Float32Array(n * h * w * c);
    const at = (b: number, i: number, j: number, k: number) => upstream[((b * 2 * h + i) * 2 * w + j) * c + k] as number;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++)
          for (let k = 0; k < c; k++) {
            hand[((b * h + i) * w + j) * c + k] =
              at(b, 2 * i, 2 * j, k) + at(b, 2 * i + 1, 2 * j, k) + at(b, 2 * i, 2 * j + 1, k) + at(b, 2 * i + 1, 2 * j + 1, k);
          }
    const { error, report } = relativeError(actual, hand);
    expect(error, report).toBeLessThanOrEqual(1e-6);
    tf.dispose([x, dyT, dx]);
  });
});
