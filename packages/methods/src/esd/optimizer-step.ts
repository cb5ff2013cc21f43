/**
 * One optimizer step on a scalar loss of some variables, for the fine-tuning methods (ESD, Adversarial
 * Preservation): θ' ← Adam(θ', ∇_θ' L). Nothing is left behind, also when the loss throws half-way through the
 * forward pass (tfjs 4.22 keeps the tensors it saved for the backward pass in that case: see `releaseAbandonedTape`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { releaseAbandonedTape } from '@erase/core';

/**
 * Computes L = `lossOf()` and ∇L for `variables` (which must be `trainable`), applies one step of `optimizer`,
 * and returns L. `lossOf` must be synchronous and build its scalar with tfjs ops.
 * @throws whatever `lossOf` throws (after releasing the abandoned tape).
 */
export function optimizerStep(optimizer: tf.Optimizer, variables: readonly tf.Variable[], lossOf: () => tf.Scalar): number {
  let computed: { value: tf.Scalar; grads: tf.NamedTensorMap };
  try {
    computed = tf.variableGrads(lossOf, variables as tf.Variable[]); // L [], ∇L per variable (its shape)
  } catch (error) {
    releaseAbandonedTape();
    throw error;
  }
  const { value, grads } = computed;
  try {
    optimizer.applyGradients(grads);
    return value.dataSync()[0] as number;
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads).filter((g): g is tf.Tensor => g != null));
  }
}
