/**
 * Cheap seeded random weights with realistic magnitudes for benchmarks (no files needed).
 *
 * Notation: a weight of PyTorch shape [out, in, …] has fan_in = in · kh · kw.
 *   Linear / Conv2d weights   u · 1/√fan_in,  u uniform in [−1, 1)   (PyTorch's default bound)
 *   biases                    0;   norm γ = 1, β = 0  (rank-1 keys other than biases → 1)
 *   embedding tables          u · 0.02 · √3  (the standard deviation of transformers' N(0, 0.02²))
 * u comes from a 32-bit LCG (Numerical Recipes constants): values only need the right scale, not a good
 * distribution, and an LCG fills ~10⁹ floats in a few seconds.
 *
 * The host tensors are lazy: `data` is generated when first read and not cached, so a model of 3.4 GB
 * (SD 1.5's UNet) never holds more than one weight on the host while `fromWeights` copies it to the backend.
 */
import type { HostTensor } from '../../src/io/safetensors';

/** Fills `out` with LCG values in [−scale, scale) from `seed`; returns the next seed. */
export function fillLcg(out: Float32Array, seed: number, scale: number): number {
  let s = seed >>> 0;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s * k - scale;
  }
  return s;
}

/** The bound of a weight's values under the scheme in the file header (0 for biases). */
export function weightScale(key: string, shape: readonly number[], isEmbedding: (key: string) => boolean): number {
  if (isEmbedding(key)) return 0.02 * Math.sqrt(3);
  if (key.endsWith('.bias')) return 0;
  if (shape.length <= 1) return 1; // norm γ (filled with ones, see makeData)
  return 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
}

/**
 * Lazy float32 host tensors (PyTorch layout) for every key of `shapes`, seeded per key position.
 * @param isEmbedding keys drawn at embedding scale (default: names containing `embedding.weight` of rank 2 tables)
 */
export function randomHostWeights(
  shapes: ReadonlyMap<string, readonly number[]>,
  seed: number,
  isEmbedding: (key: string) => boolean = (key) => /embeddings?\.[a-z_]*embedding\.weight$/.test(key),
): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  let index = 0;
  for (const [key, shape] of shapes) {
    const keySeed = (Math.imul(seed + 1, 2654435761) + index++) >>> 0;
    const scale = weightScale(key, shape, isEmbedding);
    const size = shape.reduce((a, b) => a * b, 1);
    const isGamma = shape.length === 1 && !key.endsWith('.bias');
    out.set(key, {
      dtype: 'float32',
      fileDtype: 'F32',
      shape: [...shape],
      get data(): Float32Array {
        const data = new Float32Array(size);
        if (isGamma) data.fill(1);
        else if (scale > 0) fillLcg(data, keySeed, scale);
        return data;
      },
    });
  }
  return out;
}

/** Total number of values in `shapes` (the parameter count). */
export function parameterCount(shapes: ReadonlyMap<string, readonly number[]>): number {
  let n = 0;
  for (const shape of shapes.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
