/** Helpers for the backend tests: seeded host arrays and a relative-error comparison against a reference run. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@erase/core';

/** Seeded standard-normal values as float32. */
export function randomArray(rng: Rng, size: number): Float32Array {
  return Float32Array.from(rng.normalArray(size));
}

/** max |a − b| / max |b|, with a readable report of where the largest difference sits. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): { error: number; report: string } {
  if (actual.length !== expected.length) {
    return { error: Infinity, report: `length ${actual.length} vs expected ${expected.length}` };
  }
  let maxDiff = 0;
  let maxRef = 0;
  let at = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const d = Math.abs((actual[i] as number) - e);
    if (!(d <= maxDiff)) {
      maxDiff = d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(e));
  }
  const error = maxRef === 0 ? maxDiff : maxDiff / maxRef;
  return {
    error,
    report:
      `relative error ${error.toExponential(2)} (max abs diff ${maxDiff.toExponential(2)} at ${at}: ` +
      `${actual[at]} vs ${expected[at]}; max |expected| ${maxRef.toPrecision(4)})`,
  };
}

/** Runs `f` on `backend` with fresh tensors made from host arrays, returns its output's values and shape. */
export async function runOn(
  backend: 'cpu' | 'wasm',
  f: () => tf.Tensor,
): Promise<{ values: Float32Array | Int32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const out = f();
  const values = (await out.data()) as Float32Array | Int32Array;
  const shape = out.shape.slice();
  out.dispose();
  return { values, shape };
}
