/**
 * Pseudo numerical methods for diffusion models (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on
 * Manifolds", https://arxiv.org/abs/2202.09778), equal to diffusers 0.25.1 `PNDMScheduler`: F-PNDM = 3 pseudo
 * Runge–Kutta steps (PRK, eq. 13) then linear multistep (PLMS, eq. 12); `skip_prk_steps` gives PLMS only (SD's
 * default), warmed up with lower-order multistep formulas.
 *
 * Notation (paper eq. 9–13; diffusers names in brackets):
 *   δ = T/n, ᾱ_t [alpha_prod_t], ᾱ_{t−δ} [alpha_prod_t_prev] (finalAlphaCumprod when t−δ < 0)
 *   e_t = ε_θ(x_t, t) [model_output], e′ the combined slope [model_output after mixing], history [ets]
 *   φ(x_t, e′, t, t−δ) = √(ᾱ_{t−δ}/ᾱ_t)·x_t − (ᾱ_{t−δ} − ᾱ_t)·e′ / (ᾱ_t·√(1−ᾱ_{t−δ}) + √(ᾱ_t(1−ᾱ_t)ᾱ_{t−δ}))
 *                                                                      (eq. 9, `_get_prev_sample`)
 *   PLMS: e′ = (55e_t − 59e_{t−δ} + 37e_{t−2δ} − 9e_{t−3δ})/24 (eq. 12), with 1st/2nd/3rd-order warm-up.
 *   PRK:  e′ = (e¹ + 2e² + 2e³ + e⁴)/6 over half steps δ/2 (eq. 13).
 *
 * Shapes: every tensor is the sample's shape (any layout). The scheduler keeps copies of past model outputs (its
 * only tensor state); `setTimesteps` and `dispose` free them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import type { Scheduler, SchedulerStepOutput } from '@erase/core';
import { batchTimesteps, checkIntegerTimestep, checkSameShape, perItem, requireInferenceSteps } from './checks';
import { BETA_FIELDS, BETA_SCHEDULE_FIELD, parseSchedulerConfig } from './config';
import type { ConfigSpec } from './config';
import { alphasCumprodFromBetas, checkInferenceSteps, integerTimesteps, makeBetas } from './schedule';
import type { BetaSchedule, TimestepSpacing } from './schedule';

const f = Math.fround;
const NAME = 'PNDMScheduler';
const PNDM_ORDER = 4;

/** `PNDMScheduler` config (camelCase of diffusers' keys; defaults are diffusers'). */
export interface PNDMSchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: Exclude<BetaSchedule, 'sigmoid'>;
  readonly trainedBetas: readonly number[] | null;
  readonly skipPrkSteps: boolean;
  readonly setAlphaToOne: boolean;
  /** `epsilon` or `v_prediction` (diffusers' PNDM has no `sample`). */
  readonly predictionType: 'epsilon' | 'v_prediction';
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
}

const DEFAULTS: PNDMSchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null,
  skipPrkSteps: false,
  setAlphaToOne: false,
  predictionType: 'epsilon',
  timestepSpacing: 'leading',
  stepsOffset: 0,
};

const SPEC: ConfigSpec<PNDMSchedulerConfig> = {
  ...BETA_FIELDS,
  betaSchedule: BETA_SCHEDULE_FIELD,
  predictionType: { kind: 'enum', values: ['epsilon', 'v_prediction'] },
  skipPrkSteps: { kind: 'boolean' },
  setAlphaToOne: { kind: 'boolean' },
};

/**
 * The PNDM/PLMS sampler. Stateful: call `setTimesteps` before each run and `step` once per entry of `timesteps`,
 * in order. `step` returns only `prevSample` (as diffusers).
 * @throws InvalidOptionError for a bad config.
 */
export class PNDMScheduler implements Scheduler {
  readonly config: PNDMSchedulerConfig;
  readonly numTrainTimesteps: number;
  /** β_t, float32 [T]. */
  readonly betas: Float32Array;
  /** ᾱ_t, float32 [T]. */
  readonly alphasCumprod: Float32Array;
  /** ᾱ used past the last step: 1 when `set_alpha_to_one`, else ᾱ_0. */
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  private timestepList: number[] = [];
  private prkTimesteps: number[] = [];
  private inferenceSteps: number | undefined;
  // running values (diffusers: counter, ets, cur_sample, cur_model_output); tensors are our own copies
  private counter = 0;
  private ets: tf.Tensor[] = [];
  private curSample: tf.Tensor | undefined;
  private curModelOutput: tf.Tensor | undefined;

  /** @param config camelCase or snake_case keys; missing keys take diffusers' defaults. */
  constructor(config: Partial<PNDMSchedulerConfig> | Readonly<Record<string, unknown>> = {}) {
    this.config = parseSchedulerConfig(NAME, config as Record<string, unknown>, DEFAULTS, SPEC);
    this.numTrainTimesteps = this.config.numTrainTimesteps;
    this.betas = makeBetas(this.config, NAME);
    this.alphasCumprod = alphasCumprodFromBetas(this.betas);
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : (this.alphasCumprod[0] as number);
  }

  /** From diffusers' `scheduler_config.json` object (snake_case; unknown keys are ignored). */
  static fromConfig(json: Readonly<Record<string, unknown>>): PNDMScheduler {
    return new PNDMScheduler(json);
  }

  /** PRK timesteps then PLMS timesteps (empty until `setTimesteps`, as diffusers' `None`). */
  get timesteps(): readonly number[] {
    return this.timestepList;
  }

  get numInferenceSteps(): number | undefined {
    return this.inferenceSteps;
  }

  /** Sets n steps and resets the multistep history (frees its tensors). With PLMS only there are n + 1 timesteps. */
  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps, NAME);
    if (!this.config.skipPrkSteps && numInferenceSteps < 2) {
      // the Runge–Kutta warm-up of one step leaves an empty schedule (raw noise would be decoded as the image)
      throw new InvalidOptionError({
        option: `${NAME}.setTimesteps(numInferenceSteps)`,
        expected: 'at least 2 steps with Runge–Kutta warm-up steps (skip_prk_steps: false), or skip_prk_steps: true',
        received: numInferenceSteps,
      });
    }
    const n = numInferenceSteps;
    const T = this.numTrainTimesteps;
    this.inferenceSteps = n;
    // ascending, as diffusers' `_timesteps`
    const base = integerTimesteps(this.config.timestepSpacing, T, n, this.config.stepsOffset).reverse();
    if (this.config.skipPrkSteps) {
      // [t_0 … t_{n−2}, t_{n−2}, t_{n−1}] reversed: the second timestep is repeated
      this.prkTimesteps = [];
      const plms = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
      this.timestepList = plms;
    } else {
      const half = Math.floor(Math.floor(T / n) / 2);
      // last 4 timesteps, each at t and t + δ/2, repeated into the RK stages, reversed
      const stages = base.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      const repeated = stages.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1);
      this.prkTimesteps = repeated.reverse();
      this.timestepList = [...this.prkTimesteps, ...base.slice(0, -3).reverse()];
    }
    this.resetState();
  }

  /** Identity (returns a copy the caller owns). */
  scaleModelInput(sample: tf.Tensor, _timestep: number): tf.Tensor {
    return tf.clone(sample); // sample shape
  }

  /**
   * One PRK or PLMS step (diffusers `step`). Inputs are not disposed (the scheduler keeps its own copies).
   * @returns prevSample, owned by the caller (no predOriginalSample, as diffusers).
   * @throws InvalidOptionError before `setTimesteps` or for a timestep outside [0, T); ShapeMismatchError.
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor): SchedulerStepOutput {
    requireInferenceSteps(NAME, this.inferenceSteps);
    checkIntegerTimestep(NAME, timestep, this.numTrainTimesteps);
    checkSameShape(`${NAME}.step modelOutput`, modelOutput, sample.shape);
    if (this.counter < this.prkTimesteps.length && !this.config.skipPrkSteps) {
      return { prevSample: this.stepPrk(modelOutput, timestep, sample) };
    }
    return { prevSample: this.stepPlms(modelOutput, timestep, sample) };
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

  clone(): PNDMScheduler {
    return new PNDMScheduler(this.config);
  }

  /** Frees the multistep history (the scheduler stays usable; the next run starts with `setTimesteps`). */
  dispose(): void {
    this.resetState();
  }

  /** Runge–Kutta stage (eq. 13): accumulates (e¹ + 2e² + 2e³ + e⁴)/6 over four calls per step. */
  private stepPrk(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor): tf.Tensor {
    const n = this.inferenceSteps as number;
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(this.numTrainTimesteps / n) / 2);
    const prevTimestep = timestep - diffToPrev;
    const stageTimestep = this.prkTimesteps[Math.floor(this.counter / 4) * 4] as number;
    let slope = modelOutput;
    const stage = this.counter % 4;
    const accumulate = (weight: number): void => {
      const old = this.curModelOutput;
      const term = tf.mul(f(weight), modelOutput); // sample shape
      this.curModelOutput = old === undefined ? term : tf.add(old, term); // sample shape
      if (old !== undefined) {
        term.dispose();
        old.dispose();
      }
    };
    let ownedSlope: tf.Tensor | undefined;
    if (stage === 0) {
      accumulate(1 / 6);
      this.ets.push(tf.clone(modelOutput)); // sample shape
      this.curSample?.dispose();
      this.curSample = tf.clone(sample); // sample shape
    } else if (stage === 1 || stage === 2) {
      accumulate(1 / 3);
    } else {
      ownedSlope = tf.tidy(() => {
        const term = tf.mul(f(1 / 6), modelOutput); // sample shape
        return this.curModelOutput === undefined ? term : tf.add(this.curModelOutput, term); // (e¹ + 2e² + 2e³ + e⁴)/6
      });
      slope = ownedSlope;
      this.curModelOutput?.dispose();
      this.curModelOutput = undefined;
    }
    const current = this.curSample ?? sample;
    const prev = this.prevSample(current, stageTimestep, prevTimestep, slope);
    ownedSlope?.dispose();
    this.counter += 1;
    return prev;
  }

  /** Linear multistep (eq. 12) with the warm-up of diffusers' `step_plms`. */
  private stepPlms(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor): tf.Tensor {
    if (!this.config.skipPrkSteps && this.ets.length < 3) {
      throw new InvalidOptionError({
        option: `${NAME}.step`,
        expected: 'the 3 Runge–Kutta steps (12 calls) before linear multistep: call setTimesteps() then step() in timestep order',
        received: this.counter,
      });
    }
    const n = this.inferenceSteps as number;
    const delta = Math.floor(this.numTrainTimesteps / n);
    let t = timestep;
    let prevTimestep = t - delta;
    if (this.counter !== 1) {
      while (this.ets.length > 3) this.ets.shift()?.dispose();
      this.ets.push(tf.clone(modelOutput)); // sample shape
    } else {
      prevTimestep = t;
      t = t + delta;
    }
    const e = this.ets;
    const at = (k: number): tf.Tensor => e[e.length - k] as tf.Tensor; // e_{t−(k−1)δ}
    let x = sample;
    let slope: tf.Tensor;
    let ownedSlope = true;
    if (e.length === 1 && this.counter === 0) {
      slope = modelOutput;
      ownedSlope = false;
      this.curSample?.dispose();
      this.curSample = tf.clone(sample); // sample shape
    } else if (e.length === 1 && this.counter === 1) {
      slope = tf.tidy(() => tf.div(tf.add(modelOutput, at(1)), 2)); // (e_t + e_{t+δ})/2
      x = this.curSample ?? sample;
    } else if (e.length === 2) {
      slope = tf.tidy(() => tf.div(tf.sub(tf.mul(3, at(1)), at(2)), 2)); // (3e_t − e_{t−δ})/2
    } else if (e.length === 3) {
      // (23e_t − 16e_{t−δ} + 5e_{t−2δ})/12, sample shape
      slope = tf.tidy(() => tf.div(tf.add(tf.sub(tf.mul(23, at(1)), tf.mul(16, at(2))), tf.mul(5, at(3))), 12));
    } else {
      slope = tf.tidy(() => {
        const sum = tf.sub(
          tf.add(tf.sub(tf.mul(55, at(1)), tf.mul(59, at(2))), tf.mul(37, at(3))),
          tf.mul(9, at(4)),
        ); // 55e_t − 59e_{t−δ} + 37e_{t−2δ} − 9e_{t−3δ}
        return tf.mul(f(1 / 24), sum); // sample shape
      });
    }
    const prev = this.prevSample(x, t, prevTimestep, slope);
    if (ownedSlope) slope.dispose();
    if (e.length === 1 && this.counter === 1) {
      this.curSample?.dispose();
      this.curSample = undefined;
    }
    this.counter += 1;
    return prev;
  }

  /** φ of eq. 9 (diffusers `_get_prev_sample`). The caller owns the result. */
  private prevSample(sample: tf.Tensor, timestep: number, prevTimestep: number, modelOutput: tf.Tensor): tf.Tensor {
    const alphaProdT = this.alphasCumprod[timestep] as number;
    const alphaProdTPrev = prevTimestep >= 0 ? (this.alphasCumprod[prevTimestep] as number) : this.finalAlphaCumprod;
    const betaProdT = f(1 - alphaProdT);
    const betaProdTPrev = f(1 - alphaProdTPrev);
    // (α_{t−δ} − α_t) over the denominator of x_t in eq. 9, plus 1
    const sampleCoeff = f(Math.sqrt(f(alphaProdTPrev / alphaProdT)));
    // denominator of e_θ(x_t, t) in eq. 9
    const denom = f(
      f(alphaProdT * f(Math.sqrt(betaProdTPrev))) + f(Math.sqrt(f(f(alphaProdT * betaProdT) * alphaProdTPrev))),
    );
    const numer = f(alphaProdTPrev - alphaProdT);
    return tf.tidy(() => {
      let e = modelOutput;
      if (this.config.predictionType === 'v_prediction') {
        // ε = √ᾱ_t·v + √(1−ᾱ_t)·x_t
        e = tf.add(tf.mul(f(Math.sqrt(alphaProdT)), modelOutput), tf.mul(f(Math.sqrt(betaProdT)), sample)); // sample shape
      }
      return tf.sub(tf.mul(sampleCoeff, sample), tf.div(tf.mul(numer, e), denom)); // sample shape
    });
  }

  private resetState(): void {
    for (const e of this.ets) e.dispose();
    this.ets = [];
    this.curSample?.dispose();
    this.curSample = undefined;
    this.curModelOutput?.dispose();
    this.curModelOutput = undefined;
    this.counter = 0;
  }
}
