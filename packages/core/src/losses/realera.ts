/**
 * RealEra prediction-noise alignment losses for the LoRA stage (Liu et al., "RealEra: Semantic-level
 * Concept Erasure via Neighbor-Concept Mining", §4.3, eqs. 8–9; methods.md §3).
 *
 * Notation:
 *   ε(z_t, t, p)    the model being trained (closed-form weights θ' + LoRA Δ)
 *   ε̂(z_t, t, p)    the original model (frozen)
 *   p_c / p_c*      prompt with the erased concept / with the anchor concept
 *   p'_c            a freshly mined neighbour of the erased embedding (§4.1)
 *   p''_c           a freshly drawn beyond-concept sample (§4.2)
 *   z_t             latents of images generated from p_c*, noised to a random t
 *
 *   odd steps  (eq. 8):  L = w_e ‖ε(z_t, t, p_c) − ε̂(z_t, t, p_c*)‖²
 *   even steps (eq. 9):  L = w_n ‖ε(z_t, t, p'_c) − ε̂(z_t, t, p_c*)‖² + w_b ‖ε(z_t, t, p''_c) − ε̂(z_t, t, p''_c)‖²
 *
 * ‖·‖² is read as torch's `F.mse_loss` (mean over all elements), the convention of the diffusion training
 * code RealEra builds on (MACE); the paper has no public code. The term weights w_e, w_n, w_b are ours
 * (default 1, which is the paper's equations). The ε̂ targets pass through `stopGradient`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '../errors/errors';
import { meanSquaredError } from './mse';
import { stopGradient } from './stop-gradient';

/** Predictions of an odd step; both the same shape ([B, H, W, C]). */
export interface RealEraOddStepPredictions {
  /** ε(z_t, t, p_c): trained model, erased concept. */
  readonly trainedErased: tf.Tensor;
  /** ε̂(z_t, t, p_c*): frozen model, anchor concept. */
  readonly frozenAnchor: tf.Tensor;
}

/** Predictions of an even step; all the same shape. */
export interface RealEraEvenStepPredictions {
  /** ε(z_t, t, p'_c): trained model, mined neighbour of the erased concept. */
  readonly trainedNeighbor: tf.Tensor;
  /** ε̂(z_t, t, p_c*): frozen model, anchor concept. */
  readonly frozenAnchor: tf.Tensor;
  /** ε(z_t, t, p''_c): trained model, beyond-concept sample. */
  readonly trainedBeyond: tf.Tensor;
  /** ε̂(z_t, t, p''_c): frozen model, the same beyond-concept sample. */
  readonly frozenBeyond: tf.Tensor;
}

/** Weight of the odd-step term. */
export interface RealEraOddStepOptions {
  /** w_e ≥ 0. Default 1. */
  readonly eraseWeight?: number;
}

/** Weights of the even-step terms. */
export interface RealEraEvenStepOptions {
  /** w_n ≥ 0, neighbour → anchor term. Default 1. */
  readonly neighborWeight?: number;
  /** w_b ≥ 0, beyond-concept preservation term. Default 1. */
  readonly beyondWeight?: number;
}

function termWeight(name: string, value: number | undefined): number {
  const weight = value ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new InvalidOptionError({ option: name, expected: 'a finite number >= 0', received: weight });
  }
  return weight;
}

/**
 * Odd-step loss (eq. 8), a scalar. Inputs are not disposed; the caller owns the scalar.
 * @throws ShapeMismatchError when the shapes differ; InvalidOptionError for a bad weight.
 */
export function realEraOddStepLoss(predictions: RealEraOddStepPredictions, options: RealEraOddStepOptions = {}): tf.Scalar {
  const weight = termWeight('eraseWeight', options.eraseWeight);
  return tf.tidy(() => {
    const term = meanSquaredError(predictions.trainedErased, stopGradient(predictions.frozenAnchor), 'realEraOddStepLoss frozenAnchor'); // []
    return tf.mul(term, weight); // []
  });
}

/**
 * Even-step loss (eq. 9), a scalar. Inputs are not disposed; the caller owns the scalar.
 * @throws ShapeMismatchError when the shapes differ; InvalidOptionError for a bad weight.
 */
export function realEraEvenStepLoss(predictions: RealEraEvenStepPredictions, options: RealEraEvenStepOptions = {}): tf.Scalar {
  const neighborWeight = termWeight('neighborWeight', options.neighborWeight);
  const beyondWeight = termWeight('beyondWeight', options.beyondWeight);
  return tf.tidy(() => {
    const neighbor = meanSquaredError(predictions.trainedNeighbor, stopGradient(predictions.frozenAnchor), 'realEraEvenStepLoss frozenAnchor'); // []
    const beyond = meanSquaredError(predictions.trainedBeyond, stopGradient(predictions.frozenBeyond), 'realEraEvenStepLoss frozenBeyond'); // []
    return tf.add(tf.mul(neighbor, neighborWeight), tf.mul(beyond, beyondWeight)); // []
  });
}
