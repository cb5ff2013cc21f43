/**
 * Gradient accumulation over micro-batches: the gradient of a mean loss over a batch of B examples, computed as a
 * weighted sum of micro-batch gradients, so a batch larger than the memory allows still trains.
 *
 * Notation: the batch is split into micro-batches m = 1…M of sizes b_m (Σ b_m = B); L_m is the *mean* loss over
 * micro-batch m. The full-batch mean loss is L = Σ_m (b_m / B)·L_m, hence ∇L = Σ_m (b_m / B)·∇L_m — exact, not an
 * approximation (for losses that are means over independent examples; batch-statistics layers like BatchNorm differ).
 * Only one micro-batch's activations are alive at a time; the running sum is one tensor per variable.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, throwIfAborted } from '../errors/errors';
import { releaseAbandonedTape } from './release-tape';

/** Options of `accumulateGradients`. */
export interface AccumulateGradientsOptions {
  /** Variables to differentiate (default: every trainable variable the loss touches, as `tf.variableGrads`). */
  readonly variables?: readonly tf.Variable[];
  readonly signal?: AbortSignal;
}

/** The accumulated result. The caller owns `grads` (dispose them, or pass them to an optimizer and dispose). */
export interface AccumulatedGradients {
  /** L, the size-weighted mean of the micro-batch losses. */
  readonly loss: number;
  /** ∇L per variable name. */
  readonly grads: tf.NamedTensorMap;
}

/**
 * Runs `lossOf(m)` for every micro-batch m = 0…sizes.length−1 (each returning the mean loss of that micro-batch as
 * a scalar) and returns the exact gradient of the full-batch mean loss. `lossOf` builds its inputs inside the call
 * so that they are freed after each micro-batch.
 * @param sizes b_m, positive integers (the weights of the micro-batches)
 * @throws InvalidOptionError for empty or non-positive sizes; AbortedError when `signal` fires between micro-batches
 */
export function accumulateGradients(
  sizes: readonly number[],
  lossOf: (microBatch: number) => tf.Scalar,
  options: AccumulateGradientsOptions = {},
): AccumulatedGradients {
  if (sizes.length === 0 || sizes.some((b) => !Number.isInteger(b) || b < 1)) {
    throw new InvalidOptionError({ option: 'sizes', expected: 'a non-empty list of positive integers (micro-batch sizes)', received: sizes });
  }
  const total = sizes.reduce((a, b) => a + b, 0); // B
  let sum: tf.NamedTensorMap | undefined;
  let loss = 0;
  try {
    for (let m = 0; m < sizes.length; m++) {
      throwIfAborted(options.signal, 'accumulateGradients');
      const weight = (sizes[m] as number) / total; // b_m / B
      const { value, grads } = tf.variableGrads(() => lossOf(m), options.variables as tf.Variable[] | undefined);
      loss += weight * (value.dataSync()[0] as number);
      value.dispose();
      const next: tf.NamedTensorMap = {};
      for (const [name, grad] of Object.entries(grads)) {
        const scaled = tf.mul(grad, weight); // (b_m / B)·∇L_m, same shape as the variable
        const previous = sum?.[name];
        next[name] = previous ? tf.add(previous, scaled) : scaled;
        if (previous) {
          previous.dispose();
          scaled.dispose();
        }
        grad.dispose();
      }
      if (sum) for (const [name, t] of Object.entries(sum)) if (!(name in next)) next[name] = t;
      sum = next;
    }
  } catch (error) {
    releaseAbandonedTape(); // a lossOf that threw inside the tape left its saved tensors kept
    if (sum) tf.dispose(Object.values(sum));
    throw error;
  }
  return { loss, grads: sum ?? {} };
}

/** Splits a batch of `batchSize` into micro-batches of at most `maxMicroBatch` (sizes as equal as possible). */
export function microBatchSizes(batchSize: number, maxMicroBatch: number): number[] {
  for (const [option, value] of [['batchSize', batchSize], ['maxMicroBatch', maxMicroBatch]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidOptionError({ option, expected: 'a positive integer', received: value });
  }
  const count = Math.ceil(batchSize / maxMicroBatch);
  const base = Math.floor(batchSize / count);
  return Array.from({ length: count }, (_, i) => base + (i < batchSize % count ? 1 : 0));
}
