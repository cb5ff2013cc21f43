/**
 * nn primitives against naive float64 references written in PyTorch layouts: layout conversion, linear, conv2d (incl.
 * stride 2 and the VAE's asymmetric downsample padding), group/layer norm, activations, nearest upsampling (forward and
 * gradient), timestep embedding.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { ensureGradients } from '@erase/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/io/safetensors';
import {
  conv2d, downsample2d, gelu, geglu, groupNorm, layerNorm, linear, mapWeights, quickGelu, silu, tensorToTorch,
  tfToTorchData, timestepEmbedding, torchToTfData, upsampleNearest, variableFromTorch,
} from '../../src/nn/index';
import { compareArrays, nchwToNhwc } from '../parity';
import { randomArray, refConv2d, refGroupNorm } from './reference';

const host = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', fileDtype: 'F32', shape, data });

describe('PyTorch ↔ tfjs layouts', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('linear [out, in] → [in, out] and conv [out, in, kh, kw] → [kh, kw, in, out], by hand', () => {
    expect(Array.from(torchToTfData(host([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)), 'linear').data)).toEqual([1, 4, 2, 5, 3, 6]);
    // out 2, in 1, 1×2 kernel: w[o][0][0][x] = 10·o + x
    const conv = torchToTfData(host([2, 1, 1, 2], Float32Array.of(0, 1, 10, 11)), 'conv2d');
    expect(conv.shape).toEqual([1, 2, 1, 2]);
    expect(Array.from(conv.data)).toEqual([0, 10, 1, 11]);
  });

  it('round-trips through tfjs layout and a Variable', () => {
    for (const [shape, layout] of [[[5, 3], 'linear'], [[4, 3, 3, 2], 'conv2d'], [[7], 'plain']] as const) {
      const data = randomArray(shape.reduce((a: number, b: number) => a * b, 1), 1);
      const t = torchToTfData(host([...shape], data), layout);
      expect(Array.from(tfToTorchData(t.data, t.shape, layout).data)).toEqual(Array.from(data));
      const v = variableFromTorch(host([...shape], data), layout);
      expect(v.trainable).toBe(false);
      expect(Array.from(tensorToTorch(v, layout).data)).toEqual(Array.from(data));
      v.dispose();
    }
  });

  it('mapWeights.get names the missing key', () => {
    expect(() => mapWeights(new Map(), 'model.safetensors').get('a.weight')).toThrow(/a\.weight/);
  });
});

describe.each(['cpu', 'wasm'])('layers (%s)', (backend) => {
  beforeAll(async () => {
    await ensureGradients();
    await tf.setBackend(backend);
  });

  it('linear: y = W x + b with W converted from [out, in], rank-3 input, and a LoRA delta', async () => {
    const w = randomArray(4 * 3, 2); // [out 4, in 3]
    const b = randomArray(4, 3);
    const x = randomArray(2 * 5 * 3, 4); // [2, 5, 3]
    const A = randomArray(2 * 3, 5); // [r 2, in 3]
    const B = randomArray(4 * 2, 6); // [out 4, r 2]
    const expected = new Float64Array(2 * 5 * 4);
    for (let n = 0; n < 10; n++)
      for (let o = 0; o < 4; o++) {
        let acc = b[o] as number;
        for (let i = 0; i < 3; i++) acc += (w[o * 3 + i] as number) * (x[n * 3 + i] as number);
        let lora = 0;
        for (let r = 0; r < 2; r++) {
          let ax = 0;
          for (let i = 0; i < 3; i++) ax += (A[r * 3 + i] as number) * (x[n * 3 + i] as number);
          lora += (B[o * 2 + r] as number) * ax;
        }
        expected[n * 4 + o] = acc + 0.5 * lora;
      }
    const wt = torchToTfData(host([4, 3], w), 'linear');
    const [W, bias, X, down, up] = [tf.tensor(wt.data, wt.shape), tf.tensor1d(b), tf.tensor3d(x, [2, 5, 3]), tf.tensor2d(A, [2, 3]), tf.tensor2d(B, [4, 2])];
    const y = linear(X, W, bias, { down, up, scale: 0.5 });
    expect(y.shape).toEqual([2, 5, 4]);
    const cmp = compareArrays('linear', await y.data(), expected, [2, 5, 4], 1e-5);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([W, bias, X, down, up, y]);
  });

  it.each([
    ['3×3 stride 1 pad 1', 3, 1, [1, 1, 1, 1], [2, 3, 6, 5]],
    ['3×3 stride 2 pad 1 (UNet downsample), odd size', 3, 2, [1, 1, 1, 1], [1, 4, 7, 9]],
    ['3×3 stride 2 pad (0,1,0,1) (VAE downsample)', 3, 2, [0, 1, 0, 1], [1, 3, 8, 6]],
    ['1×1', 1, 1, [0, 0, 0, 0], [2, 5, 3, 3]],
  ])('conv2d %s matches PyTorch semantics', async (_name, k, stride, pad, xShape) => {
    const [n, c, h, w] = xShape as [number, number, number, number];
    const o = 3;
    const x = randomArray(n * c * h * w, 7);
    const kernel = randomArray(o * c * k * k, 8);
    const bias = randomArray(o, 9);
    const ref = refConv2d(x, [n, c, h, w], kernel, [o, c, k, k], bias, stride, pad as number[]);
    const kt = torchToTfData(host([o, c, k, k], kernel), 'conv2d');
    const X = tf.tensor4d(nchwToNhwc(x, [n, c, h, w]), [n, h, w, c]);
    const K = tf.tensor(kt.data, kt.shape);
    const B = tf.tensor1d(bias);
    const isVaeDown = pad[0] === 0 && pad[1] === 1;
    const y = isVaeDown
      ? downsample2d(mapWeights(new Map([['down.conv.weight', K], ['down.conv.bias', B]])), 'down', X, 0)
      : conv2d(X, K, B, { stride, padding: pad[0] === pad[1] ? (pad[0] as number) : (pad as [number, number, number, number]) });
    const [, oc, oh, ow] = ref.shape as [number, number, number, number];
    expect(y.shape).toEqual([n, oh, ow, oc]);
    const expected = nchwToNhwc(ref.data, [n, oc, oh, ow]);
    const cmp = compareArrays('conv2d', await y.data(), expected, y.shape, 1e-5);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([X, K, B, y]);
  });

  it('groupNorm (2 groups of 3 channels) and layerNorm match the definitions', async () => {
    const [n, c, h, w] = [2, 6, 3, 4];
    const x = randomArray(n * c * h * w, 10).map((v) => 3 * v + 1);
    const gamma = randomArray(c, 11);
    const beta = randomArray(c, 12);
    const ref = nchwToNhwc(refGroupNorm(x, [n, c, h, w], 2, gamma, beta, 1e-5), [n, c, h, w]);
    const [X, G, Bt] = [tf.tensor4d(nchwToNhwc(x, [n, c, h, w]), [n, h, w, c]), tf.tensor1d(gamma), tf.tensor1d(beta)];
    const y = groupNorm(X, G, Bt, 2, 1e-5);
    const cmp = compareArrays('groupNorm', await y.data(), ref, [n, h, w, c], 1e-5);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    // layerNorm over the last axis of [n·h·w, c], by hand.
    const rows = nchwToNhwc(x, [n, c, h, w]);
    const expected = new Float64Array(rows.length);
    for (let r = 0; r < rows.length / c; r++) {
      const row = Array.from(rows.subarray(r * c, (r + 1) * c));
      const mean = row.reduce((a, b) => a + b, 0) / c;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / c;
      row.forEach((v, i) => (expected[r * c + i] = ((v - mean) / Math.sqrt(variance + 1e-5)) * (gamma[i] as number) + (beta[i] as number)));
    }
    const ln = layerNorm(X, G, Bt, 1e-5);
    const cmpLn = compareArrays('layerNorm', await ln.data(), expected, [n, h, w, c], 1e-5);
    expect(cmpLn.maxAbsDiff, cmpLn.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([X, G, Bt, y, ln]);
  });

  it('activations: silu, exact gelu, quick_gelu, and GEGLU chunk order (hidden first, gate second)', async () => {
    const xs = [-3, -1, -0.5, 0, 0.5, 1, 2.5];
    const x = tf.tensor1d(xs);
    const phi = (v: number): number => 0.5 * (1 + erf(v / Math.SQRT2));
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const check = async (t: tf.Tensor, f: (v: number) => number, what: string): Promise<void> => {
      const cmp = compareArrays(what, await t.data(), xs.map(f), [xs.length], 2e-6);
      expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(2e-6);
    };
    const [s, g, q] = [silu(x), gelu(x), quickGelu(x)];
    await check(s, (v) => v * sig(v), 'silu');
    await check(g, (v) => v * phi(v), 'gelu');
    expect(Math.abs(((await g.data())[5] as number) - 0.8413447460685429)).toBeLessThan(1e-6);
    await check(q, (v) => v * sig(1.702 * v), 'quick_gelu');
    const h = tf.tensor2d([[1, 2, 0.5, -1]]); // hidden [1, 2], gate [0.5, -1]
    const gg = geglu(h);
    const cmp = compareArrays('geglu', await gg.data(), [1 * 0.5 * phi(0.5), 2 * -1 * phi(-1)], [1, 2], 2e-6);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(2e-6);
    tf.dispose([x, s, g, q, h, gg]);
  });

  it('upsampleNearest ×2 equals resizeNearestNeighbor and its gradient sums each 2×2 block exactly', async () => {
    const x = tf.tensor4d(randomArray(2 * 3 * 5 * 4, 13), [2, 3, 5, 4]);
    const up = upsampleNearest(x);
    const ref = tf.image.resizeNearestNeighbor(x, [6, 10]);
    expect(Array.from(await up.data())).toEqual(Array.from(await ref.data()));
    const r = randomArray(2 * 6 * 10 * 4, 14);
    const R = tf.tensor4d(r, [2, 6, 10, 4]);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleNearest(t as tf.Tensor4D), R)))(x);
    const expected = new Float64Array(2 * 3 * 5 * 4);
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < 6; y++)
        for (let xx = 0; xx < 10; xx++)
          for (let ch = 0; ch < 4; ch++) {
            const i = ((b * 3 + (y >> 1)) * 5 + (xx >> 1)) * 4 + ch;
            expected[i] = (expected[i] as number) + (r[((b * 6 + y) * 10 + xx) * 4 + ch] as number);
          }
    const cmp = compareArrays('upsample grad', await grad.data(), expected, [2, 3, 5, 4], 1e-5);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([x, up, ref, R, grad]);
  });

  it('timestep embedding: [cos, sin] with flip_sin_to_cos, fractional t, odd dims zero-padded', async () => {
    const t = tf.tensor1d([1, 2.5]);
    const e = timestepEmbedding(t, 5, { flipSinToCos: true, freqShift: 0 }); // half 2: f = [1, 10000^-1/2]
    const f = [1, 0.01];
    const expected = [1, 2.5].flatMap((s) => [Math.cos(s * f[0]!), Math.cos(s * f[1]!), Math.sin(s * f[0]!), Math.sin(s * f[1]!), 0]);
    const cmp = compareArrays('timestep', await e.data(), expected, [2, 5], 1e-6);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-6);
    const s = timestepEmbedding(t, 4, { flipSinToCos: false, freqShift: 1 }); // half 2, shift 1: f = [1, 10000^-1]
    const cmpS = compareArrays('timestep shift', await s.data(), [1, 2.5].flatMap((v) => [Math.sin(v), Math.sin(v * 1e-4), Math.cos(v), Math.cos(v * 1e-4)]), [2, 4], 1e-6);
    expect(cmpS.maxAbsDiff, cmpS.report).toBeLessThanOrEqual(1e-6);
    tf.dispose([t, e, s]);
  });
});

/** erf to ~1e-15 (series / continued fraction not needed at these magnitudes: Abramowitz–Stegun 7.1.26 is too coarse). */
function erf(x: number): number {
  // Taylor series, converges fast for |x| ≤ 3.
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
