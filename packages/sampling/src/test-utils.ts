// Test helpers (not exported from the package): independent host math and backend setup.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@erase/core';

/** Backends every tensor test runs on. */
export const BACKENDS = ['cpu', 'wasm'] as const;

/** Sets the backend (awaiting wasm's initialisation). */
export async function useBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

/** n random rows of width D, row j scaled to norm `norms[j]` (or one norm for all). Float64, row-major. */
export function randomRows(n: number, width: number, norms: number | readonly number[], seed: number): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(n * width);
  for (let j = 0; j < n; j++) {
    let squared = 0;
    for (let k = 0; k < width; k++) {
      const x = rng.normal();
      out[j * width + k] = x;
      squared += x * x;
    }
    const target = typeof norms === 'number' ? norms : (norms[j] as number);
    const scale = target / Math.sqrt(squared);
    for (let k = 0; k < width; k++) out[j * width + k] = (out[j * width + k] as number) * scale;
  }
  return out;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / (norm(a) * norm(b));
}

export function subtract(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => (a[i] as number) - (b[i] as number));
}

/** Row `i` of a row-major array with rows of `width`. */
export function row(data: ArrayLike<number>, i: number, width: number): Float64Array {
  return Float64Array.from({ length: width }, (_, k) => data[i * width + k] as number);
}

/** softmax in float64. */
export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i] as number);
  const e = Float64Array.from({ length: z.length }, (_, i) => Math.exp((z[i] as number) - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}
