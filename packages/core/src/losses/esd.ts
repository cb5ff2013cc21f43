/**
 * Erased Stable Diffusion loss, ε form (Gandikota et al., "Erasing Concepts from Diffusion Models", ICCV 2023; methods.md §5;
 * official `train-scripts/train-esd.py`: `loss = criteria(e_n, e_0 - negative_guidance * (e_p - e_0))`).
 *
 * Notation:
 *   ε_θ'(x_t, c, t)  `trainedConditional`     the model being trained, prompt = the erased concept c
 *   ε_θ(x_t, ∅, t)   `frozenUnconditional`    the original (frozen) model, empty prompt
 *   ε_θ(x_t, c, t)   `frozenConditional`      the original model, prompt c
 *   η                `negativeGuidance`       default 1
 *
 *   L = mean( (ε_θ'(x_t,c,t) − sg[ε_θ(x_t,∅,t) − η(ε_θ(x_t,c,t) − ε_θ(x_t,∅,t))])² )
 *
 * The target moves *against* the concept's guidance direction (ε_c − ε_∅), as in the official code.
 * The official code computes the target under `torch.no_grad()`; here it passes through `stopGradient`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '../errors/errors';
import { checkSameShape, meanSquaredError } from './mse';
import { stopGradient } from './stop-gradient';

/** The three noise predictions of one ESD step, all the same shape (e.g. [B, H, W, C]). */
export interface EsdPredictions {
  /** ε_θ'(x_t, c, t): the trained model on the erased concept. Gradients flow through this one. */
  readonly trainedConditional: tf.Tensor;
  /** ε_θ(x_t, ∅, t): the frozen model, unconditional. */
  readonly frozenUnconditional: tf.Tensor;
  /** ε_θ(x_t, c, t): the frozen model on the erased concept. */
  readonly frozenConditional: tf.Tensor;
}

/** Options of the ESD loss. */
export interface EsdLossOptions {
  /** η ≥ 0, ESD's `negative_guidance`. Default 1. */
  readonly negativeGuidance?: number;
}

/**
 * Validates η. @throws InvalidOptionError (`negativeGuidance`) unless a finite number ≥ 0.
 */
export function resolveNegativeGuidance(value: number | undefined): number {
  const eta = value ?? 1;
  if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0) {
    throw new InvalidOptionError({ option: 'negativeGuidance', expected: 'a finite number >= 0', received: eta });
  }
  return eta;
}

/**
 * The ESD target `unconditional − η (conditional − unconditional)` (no stop-gradient applied).
 * Same shape as the inputs; inputs are not disposed; the caller owns the result.
 * @throws ShapeMismatchError when the shapes differ; InvalidOptionError for a bad η.
 */
export function esdTarget(unconditional: tf.Tensor, conditional: tf.Tensor, negativeGuidance?: number): tf.Tensor {
  const eta = resolveNegativeGuidance(negativeGuidance);
  checkSameShape('esdTarget conditional (must match unconditional)', unconditional, conditional);
  return tf.tidy(() => tf.sub(unconditional, tf.mul(tf.sub(conditional, unconditional), eta))); // [B, ...]
}

/**
 * ESD loss (scalar): MSE, mean over all elements, between the trained prediction and the stop-gradient
 * ESD target. Inputs are not disposed; the caller owns the scalar.
 * @throws ShapeMismatchError when the three predictions differ in shape; InvalidOptionError for a bad η.
 */
export function esdLoss(predictions: EsdPredictions, options: EsdLossOptions = {}): tf.Scalar {
  const { trainedConditional, frozenUnconditional, frozenConditional } = predictions;
  checkSameShape('esdLoss frozenUnconditional (must match trainedConditional)', trainedConditional, frozenUnconditional);
  return tf.tidy(() => {
    const target = esdTarget(frozenUnconditional, frozenConditional, options.negativeGuidance); // [B, ...]
    return meanSquaredError(trainedConditional, stopGradient(target)); // [B, ...] -> []
  });
}
