/**
 * DDPM ancestral sampling (Ho et al. 2020, "Denoising Diffusion Probabilistic Models",
 * https://arxiv.org/abs/2006.11239), equal to diffusers 0.25.1 `DDPMScheduler`, with strided steps t → t − T/n.
 *
 * Notation (paper eq. 6, 7 and 15; diffusers names in brackets):
 *   ᾱ_t [alpha_prod_t], ᾱ_{t'} [alpha_prod_t_prev] at t' = t − T/n (1 when t' < 0),
 *   α_t = ᾱ_t/ᾱ_{t'} [current_alpha_t], β_t = 1 − α_t [current_beta_t]
 *   x̂_0 = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t                                   [pred_original_sample], eq. 15
 *   μ̃_t = √ᾱ_{t'}·β_t/(1−ᾱ_t)·x̂_0 + √α_t·(1−ᾱ_{t'})/(1−ᾱ_t)·x_t       [pred_prev_sample], eq. 7
 *   β̃_t = (1−ᾱ_{t'})/(1−ᾱ_t)·β_t  (fixed_small) or β_t (fixed_large)  [variance], eq. 7 / §3.2
 *   x_{t'} = μ̃_t + √β̃_t·z,  z ~ N(0, I), for t > 0
 *
 * Shapes: every tensor is the sample's shape (any layout). Scalars follow torch's float32 arithmetic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, UnsupportedError } from '@erase/core';
import type { Scheduler, SchedulerStepOptions, SchedulerStepOutput } from '@erase/core';
import { batchTimesteps, checkIntegerTimestep, checkSameShape, perItem, stepNoise } from './checks';
import { BETA_FIELDS, PREDICTION_TYPE_FIELD, parseSchedulerConfig } from './config';
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
const NAME = 'DDPMScheduler';

/** DDPM variance choices supported here (diffusers `variance_type`). */
export type DDPMVarianceType = 'fixed_small' | 'fixed_small_log' | 'fixed_large';

/** `DDPMScheduler` config (camelCase of diffusers' keys; defaults are diffusers'). */
export interface DDPMSchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  readonly trainedBetas: readonly number[] | null;
  readonly varianceType: DDPMVarianceType;
  readonly clipSample: boolean;
  readonly predictionType: PredictionType;
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly clipSampleRange: number;
  readonly sampleMaxValue: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly rescaleBetasZeroSnr: boolean;
}

const DEFAULTS: DDPMSchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null,
  varianceType: 'fixed_small',
  clipSample: true,
  predictionType: 'epsilon',
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  clipSampleRange: 1.0,
  sampleMaxValue: 1.0,
  timestepSpacing: 'leading',
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
};

const UNSUPPORTED_VARIANCE = ['fixed_large_log', 'learned', 'learned_range'];

const SPEC: ConfigSpec<DDPMSchedulerConfig> = {
  ...BETA_FIELDS,
  betaSchedule: { kind: 'enum', values: ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'] },
  predictionType: PREDICTION_TYPE_FIELD,
  varianceType: { kind: 'enum', values: ['fixed_small', 'fixed_small_log', 'fixed_large', ...UNSUPPORTED_VARIANCE] },
  clipSample: { kind: 'boolean' },
  thresholding: { kind: 'boolean' },
  dynamicThresholdingRatio: { kind: 'number' },
  clipSampleRange: { kind: 'number' },
  sampleMaxValue: { kind: 'number' },
  rescaleBetasZeroSnr: { kind: 'boolean' },
};

/**
 * The DDPM sampler. Stochastic: the noise of each step comes from `options.varianceNoise` (sample shape), else
 * from `new Rng(options.seed)`, else from the scheduler's own stream (seed 0 at construction).
 * @throws InvalidOptionError for a bad config; UnsupportedError for `thresholding: true` or learned variances.
 */
export class DDPMScheduler implements Scheduler {
  readonly config: DDPMSchedulerConfig;
  readonly numTrainTimesteps: number;
  /** β_t, float32 [T]. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32 [T]. */
  readonly alphasCumprod: Float32Array;
  readonly initNoiseSigma = 1;
  private timestepList: number[];
  private inferenceSteps: number | undefined;
  private readonly rng = new Rng(0);

  /** @param config camelCase or snake_case keys; missing keys take diffusers' defaults. */
  constructor(config: Partial<DDPMSchedulerConfig> | Readonly<Record<string, unknown>> = {}) {
    this.config = parseSchedulerConfig(NAME, config as Record<string, unknown>, DEFAULTS, SPEC);
    if (this.config.thresholding) {
      throw new UnsupportedError(
        `${NAME}: thresholding=true (dynamic thresholding for pixel-space models) is not supported; use clip_sample instead.`,
      );
    }
    if (UNSUPPORTED_VARIANCE.includes(this.config.varianceType)) {
      throw new UnsupportedError(
        `${NAME}: variance_type=${JSON.stringify(this.config.varianceType)} is not supported ` +
          '(learned variances need a model that predicts them); use "fixed_small", "fixed_small_log" or "fixed_large".',
      );
    }
    this.numTrainTimesteps = this.config.numTrainTimesteps;
    let betas = makeBetas(this.config, NAME);
    if (this.config.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
    this.betas = betas;
    this.alphasCumprod = alphasCumprodFromBetas(betas);
    this.timestepList = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  /** From diffusers' `scheduler_config.json` object (snake_case; unknown keys are ignored). */
  static fromConfig(json: Readonly<Record<string, unknown>>): DDPMScheduler {
    return new DDPMScheduler(json);
  }

  get timesteps(): readonly number[] {
    return this.timestepList;
  }

  /** n after `setTimesteps(n)`, else undefined (steps are then t → t − 1). */
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
   * One ancestral step x_t → x_{t−T/n} (eq. 7). Inputs are not disposed; `options.varianceNoise` is used as z.
   * @returns prevSample and predOriginalSample x̂_0, owned by the caller.
   * @throws InvalidOptionError for a timestep outside [0, T); ShapeMismatchError.
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: SchedulerStepOptions = {}): SchedulerStepOutput {
    checkIntegerTimestep(NAME, timestep, this.numTrainTimesteps);
    checkSameShape(`${NAME}.step modelOutput`, modelOutput, sample.shape);
    const t = timestep;
    const prevT = this.previousTimestep(t);
    // 1. ᾱ_t, ᾱ_{t'}, β, α
    const alphaProdT = this.alphasCumprod[t] as number;
    const alphaProdTPrev = prevT >= 0 ? (this.alphasCumprod[prevT] as number) : 1;
    const betaProdT = f(1 - alphaProdT);
    const betaProdTPrev = f(1 - alphaProdTPrev);
    const currentAlphaT = f(alphaProdT / alphaProdTPrev);
    const currentBetaT = f(1 - currentAlphaT);
    const sqrtAlphaT = f(Math.sqrt(alphaProdT));
    const sqrtBetaT = f(Math.sqrt(betaProdT));
    // 4. coefficients of x̂_0 and x_t in μ̃_t (eq. 7)
    const predOriginalCoeff = f(f(f(Math.sqrt(alphaProdTPrev)) * currentBetaT) / betaProdT);
    const currentSampleCoeff = f(f(f(Math.sqrt(currentAlphaT)) * betaProdTPrev) / betaProdT);
    // 6. noise scale: √β̃_t (or exp(½·log β̃_t) for fixed_small_log)
    const noise = t > 0 ? stepNoise(NAME, sample.shape, options, this.rng) : undefined;
    const noiseScale = t > 0 ? this.noiseScale(t) : 0;

    const [prevSample, predOriginalSample] = tf.tidy(() => {
      // 2. x̂_0 (eq. 15)
      let predOriginal: tf.Tensor;
      if (this.config.predictionType === 'epsilon') {
        predOriginal = tf.div(tf.sub(sample, tf.mul(sqrtBetaT, modelOutput)), sqrtAlphaT); // (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t
      } else if (this.config.predictionType === 'sample') {
        predOriginal = modelOutput;
      } else {
        predOriginal = tf.sub(tf.mul(sqrtAlphaT, sample), tf.mul(sqrtBetaT, modelOutput)); // √ᾱ_t·x_t − √(1−ᾱ_t)·v
      }
      // 3. clip x̂_0
      if (this.config.clipSample) {
        const r = this.config.clipSampleRange;
        predOriginal = tf.clipByValue(predOriginal, -r, r); // sample shape
      }
      // 5. μ̃_t
      let prev = tf.add(tf.mul(predOriginalCoeff, predOriginal), tf.mul(currentSampleCoeff, sample)); // μ̃_t, sample shape
      // 6. + √β̃_t·z
      if (noise !== undefined) prev = tf.add(prev, tf.mul(noiseScale, noise.noise)); // sample shape
      return [prev, predOriginal === modelOutput ? tf.clone(predOriginal) : predOriginal]; // sample shape ×2
    });
    if (noise?.owned) noise.noise.dispose();
    return { prevSample, predOriginalSample };
  }

  /** √ᾱ_t·x_0 + √(1−ᾱ_t)·ε per batch item (axis 0). The caller owns the result; inputs are not disposed. */
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

  clone(): DDPMScheduler {
    return new DDPMScheduler(this.config);
  }

  /** t − T/n (diffusers `previous_timestep`; n = T before `setTimesteps`). */
  private previousTimestep(t: number): number {
    const n = this.inferenceSteps ?? this.numTrainTimesteps;
    return t - Math.floor(this.numTrainTimesteps / n);
  }

  /** The factor of z: `_get_variance(t) ** 0.5`, or `_get_variance(t)` itself for fixed_small_log (float32). */
  private noiseScale(t: number): number {
    const prevT = this.previousTimestep(t);
    const alphaProdT = this.alphasCumprod[t] as number;
    const alphaProdTPrev = prevT >= 0 ? (this.alphasCumprod[prevT] as number) : 1;
    const currentBetaT = f(1 - f(alphaProdT / alphaProdTPrev));
    // β̃_t = (1−ᾱ_{t'})/(1−ᾱ_t)·β_t, clamped to ≥ 1e-20 (diffusers takes its log)
    const small = Math.max(f(f(f(1 - alphaProdTPrev) / f(1 - alphaProdT)) * currentBetaT), f(1e-20));
    switch (this.config.varianceType) {
      case 'fixed_small':
        return f(Math.sqrt(small));
      case 'fixed_small_log':
        return f(Math.exp(f(0.5 * f(Math.log(small)))));
      case 'fixed_large':
        return f(Math.sqrt(currentBetaT));
    }
  }
}
