/**
 * Sinusoidal timestep embedding (diffusers `get_timestep_embedding` / `Timesteps`, DDPM §3.2 after the Transformer's
 * positional encoding) and the two-layer `TimestepEmbedding` MLP.
 *
 * Notation (half = ⌊dim / 2⌋, i = 0 … half−1):
 *   fᵢ = exp(−ln(maxPeriod) · i / (half − freqShift))      frequencies, float32 as torch computes them
 *   eᵢ = scale · t · fᵢ                                    t may be fractional (Euler/Karras timesteps)
 *   emb = [sin(e), cos(e)]  — or [cos(e), sin(e)] with flipSinToCos (SD) — zero-padded to `dim` when odd.
 *   TimestepEmbedding: linear_2(act(linear_1(emb)))  (keys `path.linear_1`, `path.linear_2`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import { silu } from './activations';
import { linearModule } from './linear';
import type { ModuleWeights } from './weights';

/** Options of `timestepEmbedding`. */
export interface TimestepEmbeddingOptions {
  /** diffusers `flip_sin_to_cos` (true in SD): cos first. */
  readonly flipSinToCos: boolean;
  /** diffusers `downscale_freq_shift` / UNet `freq_shift` (0 in SD 1.x/2.x, 1 in the DDPM default). */
  readonly freqShift: number;
  /** Multiplier on the arguments; default 1. */
  readonly scale?: number;
  /** Default 10000. */
  readonly maxPeriod?: number;
}

/**
 * The frequency table fᵢ (float32, i = 0 … ⌊dim/2⌋−1), rounded step by step like torch's float32 arithmetic:
 * fround(−ln(maxPeriod)) · i → fround → / (half − shift) → fround → exp → fround.
 */
export function timestepFrequencies(dim: number, freqShift: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  if (half < 1 || half - freqShift === 0) {
    throw new InvalidOptionError({ option: 'dim', expected: 'at least 2, with ⌊dim/2⌋ ≠ freq_shift', received: dim });
  }
  const logPeriod = Math.fround(-Math.log(maxPeriod));
  const denom = Math.fround(half - freqShift);
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround(Math.fround(logPeriod * i) / denom);
    out[i] = Math.fround(Math.exp(exponent));
  }
  return out;
}

/**
 * Sinusoidal embedding of timesteps t float32 [B] (fractional allowed) → float32 [B, dim]. The caller owns the result.
 * @throws InvalidOptionError for dim < 2
 */
export function timestepEmbedding(timesteps: tf.Tensor1D, dim: number, options: TimestepEmbeddingOptions): tf.Tensor2D {
  const freqs = timestepFrequencies(dim, options.freqShift, options.maxPeriod);
  const half = freqs.length;
  return tf.tidy(() => {
    const t = timesteps.dtype === 'float32' ? timesteps : tf.cast(timesteps, 'float32'); // [B]
    let args = tf.mul(tf.expandDims(t, 1), tf.tensor2d(freqs, [1, half])); // [B, 1] * [1, half] -> [B, half]
    if (options.scale !== undefined && options.scale !== 1) args = tf.mul(args, options.scale);
    const sin = tf.sin(args); // [B, half]
    const cos = tf.cos(args); // [B, half]
    let emb = options.flipSinToCos ? tf.concat([cos, sin], 1) : tf.concat([sin, cos], 1); // [B, 2·half]
    if (dim % 2 === 1) emb = tf.pad(emb, [[0, 0], [0, 1]]); // [B, dim]
    return emb as tf.Tensor2D;
  });
}

/**
 * diffusers' `TimestepEmbedding` at `path`: linear_2(act(linear_1(emb))). emb float32 [B, Cin] → [B, E].
 * The caller owns the result. @throws WeightKeysError when a weight is missing.
 */
export function timestepMlp(weights: ModuleWeights, path: string, emb: tf.Tensor2D, act: (x: tf.Tensor) => tf.Tensor = silu): tf.Tensor2D {
  return tf.tidy(() => {
    const h = act(linearModule(weights, `${path}.linear_1`, emb)); // [B, Cin] -> [B, E]
    return linearModule(weights, `${path}.linear_2`, h) as tf.Tensor2D; // [B, E] -> [B, E]
  });
}
