/**
 * Input checks and noise sourcing shared by the schedulers' `step`/`addNoise` (loud errors before any kernel runs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, Rng, ShapeMismatchError } from '@erase/core';
import type { SchedulerStepOptions } from '@erase/core';

/** @throws ShapeMismatchError unless `tensor` has exactly `shape`. */
export function checkSameShape(what: string, tensor: tf.Tensor, shape: readonly number[]): void {
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeMismatchError({ what, expected: [...shape], received: tensor.shape });
  }
}

/** @throws InvalidOptionError unless `t` is an integer training timestep in [0, T). */
export function checkIntegerTimestep(className: string, t: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) {
    throw new InvalidOptionError({
      option: `${className} timestep`,
      expected: `an integer in [0, ${numTrainTimesteps - 1}]`,
      received: t,
    });
  }
}

/** @throws InvalidOptionError when `setTimesteps` has not been called. */
export function requireInferenceSteps(className: string, numInferenceSteps: number | undefined): number {
  if (numInferenceSteps === undefined) {
    throw new InvalidOptionError({
      option: `${className}.step`,
      expected: 'setTimesteps(numInferenceSteps) to be called before step()',
      received: undefined,
    });
  }
  return numInferenceSteps;
}

/**
 * Per-batch-item timesteps for `addNoise`: one number for every item, or one per item (axis 0).
 * @throws ShapeMismatchError when a list does not have one entry per batch item.
 */
export function batchTimesteps(className: string, sample: tf.Tensor, timesteps: number | readonly number[]): number[] {
  if (typeof timesteps === 'number') return [timesteps];
  const batch = sample.shape[0] ?? 1;
  if (timesteps.length !== 1 && timesteps.length !== batch) {
    throw new ShapeMismatchError({ what: `${className}.addNoise timesteps`, expected: [batch], received: [timesteps.length] });
  }
  return [...timesteps];
}

/**
 * A per-batch-item coefficient tensor broadcastable against `sample` ([B, 1, …, 1] or a scalar). The caller owns it.
 */
export function perItem(values: readonly number[], rank: number): tf.Tensor {
  if (values.length === 1) return tf.scalar(values[0] as number); // []
  const shape = [values.length, ...new Array<number>(Math.max(rank - 1, 0)).fill(1)];
  return tf.tensor(Float32Array.from(values), shape, 'float32'); // [B, 1, …, 1]
}

/**
 * The noise a stochastic step adds: `options.varianceNoise` when given (checked against `shape`, not disposed),
 * else N(0, 1) from `new Rng(options.seed)`, else from the scheduler's own stream. The caller disposes the result
 * only when `owned` is true.
 */
export function stepNoise(
  className: string,
  shape: readonly number[],
  options: SchedulerStepOptions | undefined,
  fallback: Rng,
): { readonly noise: tf.Tensor; readonly owned: boolean } {
  if (options?.varianceNoise !== undefined) {
    checkSameShape(`${className}.step varianceNoise`, options.varianceNoise, shape);
    return { noise: options.varianceNoise, owned: false };
  }
  const rng = options?.seed !== undefined ? new Rng(options.seed) : fallback;
  return { noise: rng.normalTensor(shape), owned: true };
}
