import type * as tf from '@tensorflow/tfjs-core';

/** The output of one reverse-diffusion step. Both tensors are owned by the caller. */
export interface SchedulerStepOutput {
  /** x_{t-1}, same shape as the sample. */
  readonly prevSample: tf.Tensor;
  /** x̂0, the predicted clean sample (absent for PNDM, as in diffusers). */
  readonly predOriginalSample?: tf.Tensor;
}

/** Per-call options of `step`. */
export interface SchedulerStepOptions {
  /** DDIM η (default 0). */
  readonly eta?: number;
  /** Noise for stochastic schedulers (DDPM), same shape as the sample; drawn from `seed` when absent. */
  readonly varianceNoise?: tf.Tensor;
  /** Seed for noise the scheduler draws itself. */
  readonly seed?: number;
}

/**
 * A diffusion scheduler (diffusers semantics, shape-agnostic: any layout works, since every op is elementwise).
 *
 * Notation: ᾱ_t = `alphasCumprod[t]`; `addNoise` gives √ᾱ_t·x0 + √(1−ᾱ_t)·ε (or x0 + σ_t·ε for Euler).
 */
export interface Scheduler {
  readonly numTrainTimesteps: number;
  /** ᾱ_t for t = 0 … numTrainTimesteps−1 (float32 values, as diffusers computes them). */
  readonly alphasCumprod: Float32Array;
  /** Timesteps of the current schedule (after `setTimesteps`), descending. */
  readonly timesteps: readonly number[];
  /** σ of the initial noise (1 except Euler). */
  readonly initNoiseSigma: number;
  /** Sets the inference schedule to `numInferenceSteps` steps. */
  setTimesteps(numInferenceSteps: number): void;
  /** Scales the model input for timestep t (identity except Euler). The caller owns the result. */
  scaleModelInput(sample: tf.Tensor, timestep: number): tf.Tensor;
  /** One reverse step from `sample` at `timestep` given the model output. Inputs are not disposed. */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options?: SchedulerStepOptions): SchedulerStepOutput;
  /** Forward diffusion to the given timesteps (one per batch item, or one for all). The caller owns the result. */
  addNoise(original: tf.Tensor, noise: tf.Tensor, timesteps: number | readonly number[]): tf.Tensor;
  /** A fresh scheduler of the same kind and config (schedulers keep per-run state). */
  clone(): Scheduler;
  /** Frees tensors the scheduler keeps between steps (PNDM's past model outputs). Optional. */
  dispose?(): void;
}
