/**
 * A seeded random-number generator whose stream depends only on the seed — never on the tfjs backend.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna) seeded through splitmix32; uniforms are 32-bit outputs
 * divided by 2^32 in [0, 1); normals use the Box–Muller transform on pairs of uniforms, in float64,
 * rounded to float32 only when a tensor is made. The stream is part of the public contract: the same
 * seed gives the same numbers on cpu, wasm and webgpu, in Node and in browsers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '../errors/errors';

/** A seeded stream of uniform and normal numbers. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  /**
   * @param seed a safe integer. Its two 32-bit halves are folded into one 32-bit splitmix state, so there are 2^32
   *   distinct streams: seeds in [0, 2^32) never share one, but a seed beyond that range (or negative, or a `fork()`ed
   *   child's 53-bit seed) can give the same stream as another seed. Kept as it is: the streams are part of the
   *   contract (results in docs/ were drawn from them).
   * @throws InvalidOptionError for a non-integer seed.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });
    }
    // splitmix32 over both 32-bit halves of the seed.
    let state = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b1);
    const next = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next raw 32-bit output (unsigned). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [low, high). */
  uniformIn(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal N(0, 1) (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const value = this.spareNormal;
      this.spareNormal = undefined;
      return value;
    }
    let u1 = this.uniform();
    while (u1 <= 0) u1 = this.uniform();
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** `n` standard normals as float64. */
  normalArray(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** `n` uniforms in [low, high) as float64. */
  uniformArray(n: number, low = 0, high = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniformIn(low, high);
    return out;
  }

  /** A float32 tensor of standard normals with the given shape (row-major fill). The caller owns it. */
  normalTensor(shape: readonly number[], std = 1, mean = 0): tf.Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = mean + std * this.normal();
    return tf.tensor(values, [...shape], 'float32');
  }

  /** A float32 tensor of uniforms in [low, high). The caller owns it. */
  uniformTensor(shape: readonly number[], low = 0, high = 1): tf.Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = this.uniformIn(low, high);
    return tf.tensor(values, [...shape], 'float32');
  }

  /** An independent child stream (for sub-tasks that must not shift the parent's stream). */
  fork(): Rng {
    return new Rng(this.nextUint32() * 2097152 + (this.nextUint32() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
