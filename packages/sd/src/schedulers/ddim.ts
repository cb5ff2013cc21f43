/**
 * DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models", https://arxiv.org/abs/2010.02502), equal to
 * diffusers 0.25.1 `DDIMScheduler`.
 *
 * Notation (paper eq. 12 and 16; diffusers variable names in brackets):
 *   x_t                                  [sample]
 *   ε_θ(x_t)                             [model_output, or pred_epsilon]
 *   ᾱ_t  (the paper writes α_t)          [alpha_prod_t]       = alphasCumprod[t]
 *   ᾱ_{t−1}                              [alpha_prod_t_prev]  = alphasCumprod[t − T/n], or finalAlphaCumprod
 *   x̂_0 = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t      [pred_original_sample]  ("predicted x_0" of eq. 12)
 *   σ_t(η) = η·√((1−ᾱ_{t−1})/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t−1})   [std_dev_t], eq. 16
 *   x_{t−1} = √ᾱ_{t−1}·x̂_0 + √(1 − ᾱ_{t−1} − σ_t²)·ε + σ_t·z,   z ~ N(0, I)   (eq. 12)
 *
 * Shapes: every tensor is the sample's shape (any layout; all ops are elementwise with float32 scalars).
 * Scalar coefficients are computed in float32 exactly as torch does on 0-d float32 tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, Rng, UnsupportedError } from '@erase/core';
import type { Scheduler, SchedulerStepOptions, SchedulerStepOutput } from '@erase/core';
import { batchTimesteps, checkIntegerTimestep, checkSameShape, perItem, requireInferenceSteps, stepNoise } from './checks';
import { BETA_FIELDS, BETA_SCHEDULE_FIELD, PREDICTION_TYPE_FIELD, parseSchedulerConfig } from './config';
import type { ConfigSpec } from './config';
import {
  alphasCumprodFromBetas,
  checkInferenceSteps,
  integerTimesteps,
  makeBetas,
  rescaleZeroTerminalSnr,
} from './schedule';
import type { BetaSchedule, PredictionType, TimestepSpacing } from './schedule';

const f = Math.fround;
const NAME = 'DDIMScheduler';

/** `DDIMScheduler` config (camelCase of diffusers' keys; defaults are diffusers'). */
export interface DDIMSchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: Exclude<BetaSchedule, 'sigmoid'>;
  readonly trainedBetas: readonly number[] | null;
  readonly clipSample: boolean;
  readonly setAlphaToOne: boolean;
  readonly stepsOffset: number;
  readonly predictionType: PredictionType;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly clipSampleRange: number;
  readonly sampleMaxValue: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly rescaleBetasZeroSnr: boolean;
}

const DEFAULTS: DDIMSchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null,
  clipSample: true,
  setAlphaToOne: true,
  stepsOffset: 0,
  predictionType: 'epsilon',
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  clipSampleRange: 1.0,
  sampleMaxValue: 1.0,
  timestepSpacing: 'leading',
  rescaleBetasZeroSnr: false,
};

const SPEC: ConfigSpec<DDIMSchedulerConfig> = {
  ...BETA_FIELDS,
  betaSchedule: BETA_SCHEDULE_FIELD,
  predictionType: PREDICTION_TYPE_FIELD,
  clipSample: { kind: 'boolean' },
  setAlphaToOne: { kind: 'boolean' },
  thresholding: { kind: 'boolean' },
  dynamicThresholdingRatio: { kind: 'number' },
  clipSampleRange: { kind: 'number' },
  sampleMaxValue: { kind: 'number' },
  rescaleBetasZeroSnr: { kind: 'boolean' },
};

/** DDIM step options: η (`eta`), noise injection, and diffusers' `use_clipped_model_output`. */
export interface DDIMStepOptions extends SchedulerStepOptions {
  /** Recompute ε from the clipped x̂_0 (diffusers `use_clipped_model_output`, default false). */
  readonly useClippedModelOutput?: boolean;
}

/**
 * The DDIM sampler (deterministic for η = 0). Implements `Scheduler`.
 * @throws InvalidOptionError from the constructor for a bad config; UnsupportedError for `thresholding: true`.
 */
export class DDIMScheduler implements Scheduler {
  readonly config: DDIMSchedulerConfig;
  readonly numTrainTimesteps: number;
  /** β_t, float32 [T]. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32 [T]. */
  readonly alphasCumprod: Float32Array;
  /** ᾱ used after the last step: 1 when `set_alpha_to_one`, else ᾱ_0. */
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  private timestepList: number[];
  private inferenceSteps: number | undefined;
  private readonly rng = new Rng(0);

  /** @param config camelCase or snake_case keys; missing keys take diffusers' defaults. */
  constructor(config: Partial<DDIMSchedulerConfig> | Readonly<Record<string, unknown>> = {}) {
    this.config = parseSchedulerConfig(NAME, config as Record<string, unknown>, DEFAULTS, SPEC);
    if (this.config.thresholding) {
      throw new UnsupportedError(
        `${NAME}: thresholding=true (dynamic thresholding for pixel-space models) is not supported; use clip_sample instead.`,
      );
    }
    this.numTrainTimesteps = this.config.numTrainTimesteps;
    let betas = makeBetas(this.config, NAME);
    if (this.config.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
    this.betas = betas;
    this.alphasCumprod = alphasCumprodFromBetas(betas);
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : (this.alphasCumprod[0] as number);
    this.timestepList = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  /** From diffusers' `scheduler_config.json` object (snake_case; unknown keys such as `_class_name` are ignored). */
  static fromConfig(json: Readonly<Record<string, unknown>>): DDIMScheduler {
    return new DDIMScheduler(json);
  }

  get timesteps(): readonly number[] {
    return this.timestepList;
  }

  /** n after `setTimesteps(n)`, else undefined. */
  get numInferenceSteps(): number | undefined {
    return this.inferenceSteps;
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps, NAME);
    this.inferenceSteps = numInferenceSteps;
    const { timestepSpacing, stepsOffset } = this.config;
    this.timestepList = integerTimesteps(timestepSpacing, this.numTrainTimesteps, numInferenceSteps, stepsOffset);
  }

  /** Identity (returns a copy the caller owns). */
  scaleModelInput(sample: tf.Tensor, _timestep: number): tf.Tensor {
    return tf.clone(sample); // sample shape
  }

  /**
   * One DDIM update x_t → x_{t−1} (eq. 12). `modelOutput` and `sample` have the same shape; neither is disposed.
   * @returns prevSample x_{t−1} and predOriginalSample x̂_0, both owned by the caller.
   * @throws InvalidOptionError before `setTimesteps` or for a timestep outside [0, T); ShapeMismatchError.
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: DDIMStepOptions = {}): SchedulerStepOutput {
    const n = requireInferenceSteps(NAME, this.inferenceSteps);
    checkIntegerTimestep(NAME, timestep, this.numTrainTimesteps);
    checkSameShape(`${NAME}.step modelOutput`, modelOutput, sample.shape);
    const eta = options.eta ?? 0;
    if (typeof eta !== 'number' || !(eta >= 0 && eta <= 1)) {
      // η > 1 makes √(1 − ᾱ_{t−1} − σ²) imaginary (NaN latents); η < 0 shrinks the direction term silently
      throw new InvalidOptionError({ option: `${NAME}.step eta`, expected: 'a number in [0, 1] (0: DDIM, 1: DDPM-like)', received: eta });
    }
    // 1. previous step value t − T/n
    const prevTimestep = timestep - Math.floor(this.numTrainTimesteps / n);
    // 2. ᾱ_t, ᾱ_{t−1}, 1 − ᾱ_t
    const alphaProdT = this.alphasCumprod[timestep] as number;
    const alphaProdTPrev = prevTimestep >= 0 ? (this.alphasCumprod[prevTimestep] as number) : this.finalAlphaCumprod;
    const betaProdT = f(1 - alphaProdT);
    const sqrtAlphaT = f(Math.sqrt(alphaProdT));
    const sqrtBetaT = f(Math.sqrt(betaProdT));
    // 5. σ_t(η), eq. 16
    const variance = this.variance(alphaProdT, alphaProdTPrev);
    const stdDevT = f(f(eta) * f(Math.sqrt(variance)));
    const directionCoeff = f(Math.sqrt(f(f(1 - alphaProdTPrev) - f(stdDevT * stdDevT))));
    const sqrtAlphaPrev = f(Math.sqrt(alphaProdTPrev));
    const noise = eta > 0 ? stepNoise(NAME, sample.shape, options, this.rng) : undefined;

    const [prevSample, predOriginalSample] = tf.tidy(() => {
      // 3. x̂_0 and ε ("predicted x_0" of eq. 12)
      let predOriginal: tf.Tensor;
      let predEpsilon: tf.Tensor;
      if (this.config.predictionType === 'epsilon') {
        predOriginal = tf.div(tf.sub(sample, tf.mul(sqrtBetaT, modelOutput)), sqrtAlphaT); // (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t
        predEpsilon = modelOutput;
      } else if (this.config.predictionType === 'sample') {
        predOriginal = modelOutput;
        predEpsilon = tf.div(tf.sub(sample, tf.mul(sqrtAlphaT, predOriginal)), sqrtBetaT); // (x_t − √ᾱ_t·x̂_0)/√(1−ᾱ_t)
      } else {
        predOriginal = tf.sub(tf.mul(sqrtAlphaT, sample), tf.mul(sqrtBetaT, modelOutput)); // √ᾱ_t·x_t − √(1−ᾱ_t)·v
        predEpsilon = tf.add(tf.mul(sqrtAlphaT, modelOutput), tf.mul(sqrtBetaT, sample)); // √ᾱ_t·v + √(1−ᾱ_t)·x_t
      }
      // 4. clip x̂_0
      if (this.config.clipSample) {
        const r = this.config.clipSampleRange;
        predOriginal = tf.clipByValue(predOriginal, -r, r); // sample shape
      }
      if (options.useClippedModelOutput === true) {
        predEpsilon = tf.div(tf.sub(sample, tf.mul(sqrtAlphaT, predOriginal)), sqrtBetaT); // ε from the clipped x̂_0 // (x_t − √ᾱ_t·x̂_0)/√(1−ᾱ_t)
      }
      // 6. "direction pointing to x_t" of eq. 12
      const direction = tf.mul(directionCoeff, predEpsilon); // √(1 − ᾱ_{t−1} − σ_t²)·ε
      // 7. x_{t−1} without the random noise of eq. 12
      let prev = tf.add(tf.mul(sqrtAlphaPrev, predOriginal), direction); // √ᾱ_{t−1}·x̂_0 + direction
      if (noise !== undefined) prev = tf.add(prev, tf.mul(stdDevT, noise.noise)); // + σ_t·z
      // tidy keeps returned tensors; a returned input would be aliased, so copy the x̂_0 = model output case
      return [prev, predOriginal === modelOutput ? tf.clone(predOriginal) : predOriginal]; // sample shape ×2
    });
    if (noise?.owned) noise.noise.dispose();
    return { prevSample, predOriginalSample };
  }

  /** √ᾱ_t·x_0 + √(1−ᾱ_t)·ε per batch item (axis 0). The caller owns the result; inputs are not disposed. */
  // Copied from ./ddpm.ts DDPMScheduler.addNoise
  addNoise(original: tf.Tensor, noise: tf.Tensor, timesteps: number | readonly number[]): tf.Tensor {
    checkSameShape(`${NAME}.addNoise noise`, noise, original.shape);
    const ts = batchTimesteps(NAME, original, timesteps);
    ts.forEach((t) => checkIntegerTimestep(NAME, t, this.numTrainTimesteps));
    const ac = ts.map((t) => this.alphasCumprod[t] as number);
    return tf.tidy(() => {
      const sqrtAlpha = perItem(ac.map((a) => f(Math.sqrt(a))), original.rank); // [B, 1, …] or []
      const sqrtOneMinus = perItem(ac.map((a) => f(Math.sqrt(f(1 - a)))), original.rank); // [B, 1, …] or []
      return tf.add(tf.mul(sqrtAlpha, original), tf.mul(sqrtOneMinus, noise)); // sample shape
    });
  }

  clone(): DDIMScheduler {
    return new DDIMScheduler(this.config);
  }

  /** (1−ᾱ_{t−1})/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_{t−1}), diffusers `_get_variance` (float32). */
  private variance(alphaProdT: number, alphaProdTPrev: number): number {
    const betaProdT = f(1 - alphaProdT);
    const betaProdTPrev = f(1 - alphaProdTPrev);
    return f(f(betaProdTPrev / betaProdT) * f(1 - f(alphaProdT / alphaProdTPrev)));
  }
}
