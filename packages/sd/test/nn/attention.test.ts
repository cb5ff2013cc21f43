/**
 * multiHeadAttention against a naive float64 reference, for both strategies on both backends: plain, causal (CLIP),
 * per-batch masks, gradients, leaks and shape errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { ensureGradients, InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalMask, multiHeadAttention } from '../../src/nn/attention';
import { compareArrays } from '../parity';
import { randomArray, refAttention } from './reference';

const [B, TQ, TK, C, H] = [2, 5, 7, 12, 3];

describe.each(['cpu', 'wasm'])('multiHeadAttention (%s)', (backend) => {
  beforeAll(async () => {
    await ensureGradients();
    await tf.setBackend(backend);
  });

  it.each(['loop', 'batched'] as const)('%s strategy matches the reference (cross-attention, Tq ≠ Tk)', async (strategy) => {
    const [q, k, v] = [randomArray(B * TQ * C, 1), randomArray(B * TK * C, 2), randomArray(B * TK * C, 3)];
    const expected = refAttention(q, k, v, B, TQ, TK, C, H);
    const [Q, K, V] = [tf.tensor3d(q, [B, TQ, C]), tf.tensor3d(k, [B, TK, C]), tf.tensor3d(v, [B, TK, C])];
    const start = tf.memory().numTensors;
    const out = multiHeadAttention(Q, K, V, H, { strategy });
    expect(tf.memory().numTensors).toBe(start + 1);
    const cmp = compareArrays(`${strategy} attention`, await out.data(), expected, [B, TQ, C], 1e-5);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([Q, K, V, out]);
  });

  it.each(['loop', 'batched'] as const)('%s strategy: causal self-attention and a per-batch mask', async (strategy) => {
    const x = randomArray(B * TQ * C, 4);
    const mask = causalMask(TQ, TQ);
    const maskData = (await mask.data()) as Float32Array;
    const expected = refAttention(x, x, x, B, TQ, TQ, C, H, maskData);
    const X = tf.tensor3d(x, [B, TQ, C]);
    const out = multiHeadAttention(X, X, X, H, { causal: true, strategy });
    const cmp = compareArrays(`${strategy} causal`, await out.data(), expected, [B, TQ, C], 1e-5);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    // Per-batch mask [B, Tq, Tk]: batch 0 causal, batch 1 unmasked.
    const perBatch = tf.stack([mask, tf.zerosLike(mask)]);
    const out2 = multiHeadAttention(X, X, X, H, { mask: perBatch, strategy });
    const plain = refAttention(x, x, x, B, TQ, TQ, C, H);
    const both = new Float64Array(expected.length);
    both.set(expected.subarray(0, TQ * C), 0);
    both.set(plain.subarray(TQ * C), TQ * C);
    const cmp2 = compareArrays(`${strategy} per-batch mask`, await out2.data(), both, [B, TQ, C], 1e-5);
    expect(cmp2.maxAbsDiff, cmp2.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([mask, X, out, perBatch, out2]);
  });

  it('both strategies give the same gradients w.r.t. q, k and v', async () => {
    const [Q, K, V] = [tf.tensor3d(randomArray(B * TQ * C, 5), [B, TQ, C]), tf.tensor3d(randomArray(B * TK * C, 6), [B, TK, C]), tf.tensor3d(randomArray(B * TK * C, 7), [B, TK, C])];
    const R = tf.tensor3d(randomArray(B * TQ * C, 8), [B, TQ, C]);
    const grads = (strategy: 'loop' | 'batched'): tf.Tensor[] =>
      tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, H, { strategy }), R)))([Q, K, V]);
    const a = grads('loop');
    const b = grads('batched');
    for (let i = 0; i < 3; i++) {
      const cmp = compareArrays(`grad ${i}`, await (a[i] as tf.Tensor).data(), await (b[i] as tf.Tensor).data(), (a[i] as tf.Tensor).shape, 1e-5);
      expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
      expect(Math.max(...Array.from(await (a[i] as tf.Tensor).data(), Math.abs))).toBeGreaterThan(0);
    }
    tf.dispose([Q, K, V, R, ...a, ...b]);
  });

  it('rejects mismatched shapes and head counts', () => {
    const Q = tf.zeros([B, TQ, C]) as tf.Tensor3D;
    const K = tf.zeros([B, TK, C]) as tf.Tensor3D;
    const bad = tf.zeros([B, TK, C + 1]) as tf.Tensor3D;
    expect(() => multiHeadAttention(Q, bad, bad, H)).toThrow(ShapeMismatchError);
    expect(() => multiHeadAttention(Q, K, bad, H)).toThrow(ShapeMismatchError);
    expect(() => multiHeadAttention(Q, K, K, 5)).toThrow(InvalidOptionError);
    const mask = tf.zeros([TQ, TQ]);
    expect(() => multiHeadAttention(Q, K, K, H, { mask })).toThrow(ShapeMismatchError);
    tf.dispose([Q, K, bad, mask]);
  });
});
