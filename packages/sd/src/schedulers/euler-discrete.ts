/**
 * Euler sampler in the σ (variance-exploding) parametrisation of Karras et al. 2022, "Elucidating the Design Space
 * of Diffusion-Based Generative Models" (https://arxiv.org/abs/2206.00364), Algorithm 2, equal to diffusers 0.25.1
 * `EulerDiscreteScheduler`.
 *
 * Notation (Karras Alg. 2; diffusers names in brackets):
 *   σ_t = √((1−ᾱ_t)/ᾱ_t) [sigmas], interpolated at the (fractional) inference timesteps, then 0 appended
 *   x = x_t/√ᾱ_t (the VE form of the latent); the run starts from ε·init_noise_sigma (see below)
 *   c_in = 1/√(σ²+1) [scale_model_input], so the model sees x_t
 *   γ = min(S_churn/N, √2−1) if S_tmin ≤ σ_i ≤ S_tmax else 0;  σ̂ = σ_i(γ+1) [sigma_hat]
 *   x̂ = x + √(σ̂² − σ_i²)·ε_noise                  (only when γ > 0)
 *   D(x̂) = x̂ − σ̂·ε_θ   [pred_original_sample]      (epsilon; v/sample predictions below)
 *   d = (x̂ − D)/σ̂  [derivative],  x_{i+1} = x̂ + (σ_{i+1} − σ̂)·d   (Euler step, Alg. 2 lines 7–8)
 *
 * init_noise_sigma is max σ for `linspace`/`trailing` spacing and √(max σ² + 1) for `leading` (diffusers).
 * Shapes: every tensor is the sample's shape (any layout). Scalars follow torch's float32 arithmetic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, Rng } from '@erase/core';
import type { Scheduler, SchedulerStepOptions, SchedulerStepOutput } from '@erase/core';
import { batchTimesteps, checkSameShape, perItem, stepNoise } from './checks';
import { BETA_FIELDS, BETA_SCHEDULE_FIELD, PREDICTION_TYPE_FIELD, parseSchedulerConfig } from './config';
import type { ConfigSpec } from './config';
import { numpyInterp, numpyLinspace, torchLinspaceFloat32 } from './numeric';
import { alphasCumprodFromBetas, checkInferenceSteps, makeBetas, rescaleZeroTerminalSnr, spacedTimesteps } from './schedule';
import type { BetaSchedule, PredictionType, TimestepSpacing } from './schedule';

const f = Math.fround;
const NAME = 'EulerDiscreteScheduler';

/** `EulerDiscreteScheduler` config (camelCase of diffusers' keys; defaults are diffusers'). */
export interface EulerDiscreteSchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: Exclude<BetaSchedule, 'sigmoid'>;
  readonly trainedBetas: readonly number[] | null;
  readonly predictionType: PredictionType;
  readonly interpolationType: 'linear' | 'log_linear';
  readonly useKarrasSigmas: boolean;
  readonly sigmaMin: number | null;
  readonly sigmaMax: number | null;
  readonly timestepSpacing: TimestepSpacing;
  readonly timestepType: 'discrete' | 'continuous';
  readonly stepsOffset: number;
  readonly rescaleBetasZeroSnr: boolean;
}

const DEFAULTS: EulerDiscreteSchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null,
  predictionType: 'epsilon',
  interpolationType: 'linear',
  useKarrasSigmas: false,
  sigmaMin: null,
  sigmaMax: null,
  timestepSpacing: 'linspace',
  timestepType: 'discrete',
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
};

const SPEC: ConfigSpec<EulerDiscreteSchedulerConfig> = {
  ...BETA_FIELDS,
  betaSchedule: BETA_SCHEDULE_FIELD,
  predictionType: PREDICTION_TYPE_FIELD,
  interpolationType: { kind: 'enum', values: ['linear', 'log_linear'] },
  useKarrasSigmas: { kind: 'boolean' },
  sigmaMin: { kind: 'number-or-null' },
  sigmaMax: { kind: 'number-or-null' },
  timestepType: { kind: 'enum', values: ['discrete', 'continuous'] },
  rescaleBetasZeroSnr: { kind: 'boolean' },
};

/** Euler step options: Karras' stochastic churn (all default to diffusers' deterministic values). */
export interface EulerStepOptions extends SchedulerStepOptions {
  /** S_churn (default 0: no noise is added). */
  readonly sChurn?: number;
  /** S_tmin (default 0). */
  readonly sTmin?: number;
  /** S_tmax (default ∞). */
  readonly sTmax?: number;
  /** S_noise (default 1). */
  readonly sNoise?: number;
}

/**
 * The Euler (Karras) sampler. Stateful: `scaleModelInput`/`step` locate the step index from the first timestep
 * they see after `setTimesteps`, then advance one index per `step`.
 * @throws InvalidOptionError for a bad config.
 */
export class EulerDiscreteScheduler implements Scheduler {
  readonly config: EulerDiscreteSchedulerConfig;
  readonly numTrainTimesteps: number;
  /** β_t, float32 [T]. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32 [T] (ᾱ_{T−1} = 2⁻²⁴ with `rescale_betas_zero_snr`). */
  readonly alphasCumprod: Float32Array;
  private timestepList: number[];
  private sigmaList: Float32Array;
  private inferenceSteps: number | undefined;
  private stepIndex: number | undefined;
  private readonly rng = new Rng(0);

  /** @param config camelCase or snake_case keys; missing keys take diffusers' defaults. */
  constructor(config: Partial<EulerDiscreteSchedulerConfig> | Readonly<Record<string, unknown>> = {}) {
    this.config = parseSchedulerConfig(NAME, config as Record<string, unknown>, DEFAULTS, SPEC);
    const T = this.config.numTrainTimesteps;
    this.numTrainTimesteps = T;
    let betas = makeBetas(this.config, NAME);
    if (this.config.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
    this.betas = betas;
    this.alphasCumprod = alphasCumprodFromBetas(betas);
    // close to 0 without being 0, so that the first σ is finite (diffusers)
    if (this.config.rescaleBetasZeroSnr) this.alphasCumprod[T - 1] = 2 ** -24;
    const trainSigmas = this.trainSigmas(); // ascending in t
    const descending = Float32Array.from(trainSigmas).reverse();
    this.sigmaList = Float32Array.from([...descending, 0]);
    this.timestepList = this.continuous()
      ? Array.from(descending, (s) => f(0.25 * f(Math.log(s))))
      : Array.from(numpyLinspace(0, T - 1, T), (v) => f(v)).reverse();
  }

  /** From diffusers' `scheduler_config.json` object (snake_case; unknown keys are ignored). */
  static fromConfig(json: Readonly<Record<string, unknown>>): EulerDiscreteScheduler {
    return new EulerDiscreteScheduler(json);
  }

  /** Float32 timesteps (fractional for `linspace` spacing), descending. */
  get timesteps(): readonly number[] {
    return this.timestepList;
  }

  /** σ for each timestep, then 0 (float32 [n + 1]). */
  get sigmas(): Float32Array {
    return this.sigmaList;
  }

  get numInferenceSteps(): number | undefined {
    return this.inferenceSteps;
  }

  /** max σ for `linspace`/`trailing` spacing, √(max σ² + 1) for `leading` (float32, as diffusers). */
  get initNoiseSigma(): number {
    let max = 0;
    for (const s of this.sigmaList) max = Math.max(max, s);
    if (this.config.timestepSpacing === 'linspace' || this.config.timestepSpacing === 'trailing') return max;
    return f(Math.sqrt(f(f(max * max) + 1)));
  }

  /** Sets n steps: timesteps by the configured spacing, σ by np.interp at them (float64, then float32), 0 appended. */
  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps, NAME);
    const n = numInferenceSteps;
    const T = this.numTrainTimesteps;
    this.inferenceSteps = n;
    let timesteps: number[] = spacedTimesteps(this.config.timestepSpacing, T, n, this.config.stepsOffset).map(f);
    const trainSigmas = this.trainSigmas(); // float32, ascending in t
    let sigmas: ArrayLike<number>;
    if (this.config.interpolationType === 'linear') {
      sigmas = numpyInterp(timesteps, Array.from({ length: trainSigmas.length }, (_, i) => i), trainSigmas);
    } else {
      // torch.linspace(log σ_max, log σ_min, n + 1).exp(), float32 (diffusers' log_linear, n + 1 values)
      const logLinear = torchLinspaceFloat32(Math.log(trainSigmas[T - 1] as number), Math.log(trainSigmas[0] as number), n + 1);
      sigmas = logLinear.map((v) => f(Math.exp(v)));
    }
    if (this.config.useKarrasSigmas) {
      const logSigmas = trainSigmas.map((s) => f(Math.log(s)));
      sigmas = this.karrasSigmas(Array.from(sigmas), n);
      timesteps = Array.from(sigmas, (s) => f(sigmaToT(s, logSigmas)));
    }
    const sigmas32 = Float32Array.from(sigmas);
    this.timestepList = this.continuous() ? Array.from(sigmas32, (s) => f(0.25 * f(Math.log(s)))) : timesteps;
    this.sigmaList = Float32Array.from([...sigmas32, 0]);
    this.stepIndex = undefined;
  }

  /** x / √(σ² + 1) for the current step's σ. The caller owns the result; the input is not disposed. */
  scaleModelInput(sample: tf.Tensor, timestep: number): tf.Tensor {
    if (this.stepIndex === undefined) this.stepIndex = this.indexForTimestep(timestep);
    const sigma = this.sigmaList[this.stepIndex] as number;
    const c = f(Math.sqrt(f(f(sigma * sigma) + 1)));
    return tf.div(sample, c); // sample shape
  }

  /**
   * One Euler step σ_i → σ_{i+1} (Karras Alg. 2). Inputs are not disposed. With `sChurn > 0` the churn noise comes
   * from `options.varianceNoise`, else `new Rng(options.seed)`, else the scheduler's own stream.
   * @returns prevSample and predOriginalSample (the denoised D(x̂)), owned by the caller.
   * @throws InvalidOptionError for a timestep not in the schedule or a step past its end; ShapeMismatchError.
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: EulerStepOptions = {}): SchedulerStepOutput {
    checkSameShape(`${NAME}.step modelOutput`, modelOutput, sample.shape);
    if (this.stepIndex === undefined) this.stepIndex = this.indexForTimestep(timestep);
    const i = this.stepIndex;
    if (i + 1 >= this.sigmaList.length) {
      throw new InvalidOptionError({ option: `${NAME}.step`, expected: `at most ${this.sigmaList.length - 1} steps after setTimesteps`, received: i + 1 });
    }
    const sigma = this.sigmaList[i] as number;
    const { sChurn = 0, sTmin = 0, sTmax = Infinity, sNoise = 1 } = options;
    for (const [name, value] of [['sChurn', sChurn], ['sTmin', sTmin], ['sNoise', sNoise]] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new InvalidOptionError({ option: `${NAME}.step ${name}`, expected: 'a finite number ≥ 0', received: value });
      }
    }
    if (typeof sTmax !== 'number' || Number.isNaN(sTmax)) throw new InvalidOptionError({ option: `${NAME}.step sTmax`, expected: 'a number (Infinity allowed)', received: sTmax });
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmaList.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f(sigma * f(gamma + 1));
    const churn = gamma > 0 ? f(Math.sqrt(f(f(sigmaHat * sigmaHat) - f(sigma * sigma)))) : 0;
    const noise = gamma > 0 ? stepNoise(NAME, sample.shape, options, this.rng) : undefined;
    const dt = f((this.sigmaList[i + 1] as number) - sigmaHat);
    const [prevSample, predOriginalSample] = tf.tidy(() => {
      let x = sample;
      if (noise !== undefined) x = tf.add(x, tf.mul(tf.mul(noise.noise, f(sNoise)), churn)); // x̂ = x + √(σ̂²−σ²)·ε
      // 1. D(x̂), the predicted x_0
      let predOriginal: tf.Tensor;
      if (this.config.predictionType === 'epsilon') {
        predOriginal = tf.sub(x, tf.mul(sigmaHat, modelOutput)); // x̂ − σ̂·ε
      } else if (this.config.predictionType === 'v_prediction') {
        const cOut = f(-sigma / f(Math.sqrt(f(f(sigma * sigma) + 1))));
        predOriginal = tf.add(tf.mul(modelOutput, cOut), tf.div(x, f(f(sigma * sigma) + 1))); // v·c_out + x·c_skip
      } else {
        predOriginal = tf.clone(modelOutput); // sample shape
      }
      // 2. ODE derivative d = (x̂ − D)/σ̂, then the Euler step
      const derivative = tf.div(tf.sub(x, predOriginal), sigmaHat); // sample shape
      return [tf.add(x, tf.mul(derivative, dt)), predOriginal]; // sample shape
    });
    if (noise?.owned) noise.noise.dispose();
    this.stepIndex = i + 1;
    return { prevSample, predOriginalSample };
  }

  /**
   * x_0 + σ_t·ε per batch item (axis 0); each t must be one of `timesteps` (call `setTimesteps` first).
   * The caller owns the result; inputs are not disposed.
   */
  addNoise(original: tf.Tensor, noise: tf.Tensor, timesteps: number | readonly number[]): tf.Tensor {
    checkSameShape(`${NAME}.addNoise noise`, noise, original.shape);
    const ts = batchTimesteps(NAME, original, timesteps);
    const sigmas = ts.map((t) => this.sigmaList[this.firstIndexOf(t)] as number);
    return tf.tidy(() => tf.add(original, tf.mul(noise, perItem(sigmas, original.rank)))); // sample shape
  }

  clone(): EulerDiscreteScheduler {
    return new EulerDiscreteScheduler(this.config);
  }

  /** √((1−ᾱ_t)/ᾱ_t) for t = 0 … T−1 (float32). */
  private trainSigmas(): Float32Array {
    return this.alphasCumprod.map((a) => f(Math.sqrt(f(f(1 - a) / a))));
  }

  private continuous(): boolean {
    return this.config.timestepType === 'continuous' && this.config.predictionType === 'v_prediction';
  }

  /** diffusers `_init_step_index`: the second match when a timestep repeats, else the first. */
  private indexForTimestep(timestep: number): number {
    const t = f(timestep);
    const matches: number[] = [];
    this.timestepList.forEach((s, i) => {
      if (s === t) matches.push(i);
    });
    if (matches.length === 0) {
      throw new InvalidOptionError({ option: `${NAME} timestep`, expected: 'one of scheduler.timesteps', received: timestep });
    }
    return (matches.length > 1 ? matches[1] : matches[0]) as number;
  }

  private firstIndexOf(timestep: number): number {
    const index = this.timestepList.indexOf(f(timestep));
    if (index < 0) {
      throw new InvalidOptionError({ option: `${NAME}.addNoise timesteps`, expected: 'values from scheduler.timesteps', received: timestep });
    }
    return index;
  }

  /** Karras et al. 2022 eq. 5 with ρ = 7 between σ_min and σ_max (float64, as diffusers `_convert_to_karras`). */
  private karrasSigmas(inSigmas: readonly number[], n: number): Float64Array {
    const sigmaMin = this.config.sigmaMin ?? (inSigmas[inSigmas.length - 1] as number);
    const sigmaMax = this.config.sigmaMax ?? (inSigmas[0] as number);
    const rho = 7.0;
    const ramp = numpyLinspace(0, 1, n);
    const minInvRho = sigmaMin ** (1 / rho);
    const maxInvRho = sigmaMax ** (1 / rho);
    return ramp.map((r) => (maxInvRho + r * (minInvRho - maxInvRho)) ** rho);
  }
}

/** diffusers `_sigma_to_t`: the fractional training timestep whose log σ brackets log `sigma` (linear in log σ). */
function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let count = 0;
  let lowIdx = 0;
  // argmax of cumsum(dists >= 0): the last index where log σ_t ≤ log sigma
  for (let i = 0; i < logSigmas.length; i++) {
    if (logSigma - (logSigmas[i] as number) >= 0) {
      count += 1;
      lowIdx = i;
    }
  }
  if (count === 0) lowIdx = 0;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = logSigmas[lowIdx] as number;
  const high = logSigmas[lowIdx + 1] as number;
  const w = Math.min(Math.max((low - logSigma) / (low - high), 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}
