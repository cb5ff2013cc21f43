/**
 * Naive float64 reference implementations in PyTorch's own layouts (NCHW, [out, in, kh, kw]), written from the
 * definitions, to test the tfjs primitives against something independent of them.
 */
import { Rng } from '@erase/core';

export function randomArray(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** PyTorch Conv2d on NCHW input with zero padding [top, bottom, left, right]. */
export function refConv2d(
  x: Float32Array, xShape: readonly number[], k: Float32Array, kShape: readonly number[], bias: Float32Array | undefined,
  stride: number, pad: readonly number[],
): { data: Float64Array; shape: number[] } {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [o, , kh, kw] = kShape as [number, number, number, number];
  const [pt, pb, pl, pr] = pad as [number, number, number, number];
  const oh = Math.floor((h + pt + pb - kh) / stride) + 1;
  const ow = Math.floor((w + pl + pr - kw) / stride) + 1;
  const out = new Float64Array(n * o * oh * ow);
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let acc = bias ? (bias[oc] as number) : 0;
          for (let ic = 0; ic < c; ic++)
            for (let dy = 0; dy < kh; dy++)
              for (let dx = 0; dx < kw; dx++) {
                const iy = y * stride + dy - pt;
                const ix = xx * stride + dx - pl;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                acc += (x[((b * c + ic) * h + iy) * w + ix] as number) * (k[((oc * c + ic) * kh + dy) * kw + dx] as number);
              }
          out[((b * o + oc) * oh + y) * ow + xx] = acc;
        }
  return { data: out, shape: [n, o, oh, ow] };
}

/** PyTorch GroupNorm on NCHW input. */
export function refGroupNorm(x: Float32Array, shape: readonly number[], groups: number, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array {
  const [n, c, h, w] = shape as [number, number, number, number];
  const out = new Float64Array(x.length);
  const per = c / groups;
  for (let b = 0; b < n; b++)
    for (let g = 0; g < groups; g++) {
      let sum = 0;
      let sq = 0;
      const count = per * h * w;
      for (let ch = g * per; ch < (g + 1) * per; ch++) for (let i = 0; i < h * w; i++) sum += x[(b * c + ch) * h * w + i] as number;
      const mean = sum / count;
      for (let ch = g * per; ch < (g + 1) * per; ch++) for (let i = 0; i < h * w; i++) sq += ((x[(b * c + ch) * h * w + i] as number) - mean) ** 2;
      const inv = 1 / Math.sqrt(sq / count + eps);
      for (let ch = g * per; ch < (g + 1) * per; ch++)
        for (let i = 0; i < h * w; i++) {
          const idx = (b * c + ch) * h * w + i;
          out[idx] = ((x[idx] as number) - mean) * inv * (gamma[ch] as number) + (beta[ch] as number);
        }
    }
  return out;
}

/** Multi-head attention on [B, T, C] row-major arrays, optional additive mask [Tq, Tk]. */
export function refAttention(
  q: Float32Array, k: Float32Array, v: Float32Array, b: number, tq: number, tk: number, c: number, heads: number, mask?: Float32Array,
): Float64Array {
  const d = c / heads;
  const out = new Float64Array(b * tq * c);
  const scale = 1 / Math.sqrt(d);
  for (let n = 0; n < b; n++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < tq; i++) {
        const scores = new Float64Array(tk);
        for (let j = 0; j < tk; j++) {
          let s = 0;
          for (let e = 0; e < d; e++) s += (q[(n * tq + i) * c + h * d + e] as number) * (k[(n * tk + j) * c + h * d + e] as number);
          scores[j] = s * scale + (mask ? (mask[i * tk + j] as number) : 0);
        }
        const max = Math.max(...scores);
        let total = 0;
        for (let j = 0; j < tk; j++) total += (scores[j] = Math.exp((scores[j] as number) - max));
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < tk; j++) acc += ((scores[j] as number) / total) * (v[(n * tk + j) * c + h * d + e] as number);
          out[(n * tq + i) * c + h * d + e] = acc;
        }
      }
  return out;
}
