/**
 * The fine-tuning frame ESD and Adversarial Preservation share: pick the parameters of an ESD variant, switch their
 * `trainable` flag on, snapshot their original values θ (the frozen model ε_θ), make the Adam optimizer, and at
 * the end put the flags back — and, when the run failed or was aborted, θ too.
 *
 * Notation: θ' = the trained parameters' current values, θ = their snapshot; ε_θ' / ε_θ = the model with θ' / θ.
 * Adam: β1 0.9, β2 0.999, ε 1e-8 (torch's defaults, which the official scripts use).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DiffusionModel } from '@erase/core';
import { ParameterSnapshot, setTrainable } from '../shared/parameter-snapshot';
import { optimizerStep } from './optimizer-step';
import { esdParameterNames, type EsdVariant } from './parameter-selection';

/** A running fine-tuning session. Call `finish()` exactly once. */
export interface FineTuningSession {
  /** Diffusers names of the trained parameters, in the model's order. */
  readonly names: readonly string[];
  /** Σ of their sizes (scalar weights trained). */
  readonly size: number;
  /** One Adam step on L = `lossOf()` (synchronous, tfjs ops); returns L. */
  step(lossOf: () => tf.Scalar): number;
  /** Runs `evaluate` with the original values θ swapped in (ε_θ); the trained values are back afterwards. */
  frozen<T>(evaluate: () => T): T;
  /** Restores the flags, frees the optimizer and the snapshot; `succeeded: false` also writes θ back. Idempotent. */
  finish(succeeded: boolean): void;
}

/**
 * Starts a session on `model.unet.parameters()` for `variant` (see parameter-selection.ts).
 * @throws UnsupportedError when the variant selects no parameter.
 */
export function startFineTuning(model: DiffusionModel, variant: EsdVariant, learningRate: number): FineTuningSession {
  const parameters = model.unet.parameters();
  const names = esdParameterNames(parameters, variant, model.source);
  const restoreFlags = setTrainable(parameters, names);
  let snapshot: ParameterSnapshot;
  try {
    snapshot = new ParameterSnapshot(parameters, names);
  } catch (error) {
    restoreFlags();
    throw error;
  }
  const variables = snapshot.trainedVariables;
  const optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-8);
  let finished = false;
  return {
    names,
    size: variables.reduce((sum, v) => sum + v.size, 0),
    step: (lossOf) => optimizerStep(optimizer, variables, lossOf),
    frozen: (evaluate) => snapshot.withOriginal(evaluate),
    finish: (succeeded) => {
      if (finished) return;
      finished = true;
      try {
        if (!succeeded) snapshot.restore();
      } finally {
        restoreFlags();
        optimizer.dispose();
        snapshot.dispose();
      }
    },
  };
}
