/**
 * The training noise schedule shared by every scheduler (diffusers 0.25.1 `__init__` of DDIM/DDPM/PNDM/Euler),
 * and the inference timestep spacings of Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
 * Flawed", Table 2 (`linspace`, `leading`, `trailing`).
 *
 * Notation (DDPM, Ho et al. 2020, eq. 4): β_t = `betas[t]`, α_t = 1 − β_t, ᾱ_t = ∏_{s≤t} α_s = `alphasCumprod[t]`,
 * T = `numTrainTimesteps`. All values are float32 and equal to diffusers' torch tensors bit for bit
 * (see `numeric.ts` for the reference arithmetic).
 */
import { InvalidOptionError } from '@erase/core';
import { cumprodFloat32, numpyArange, numpyLinspace, roundHalfEven, torchLinspaceFloat32 } from './numeric';

const f = Math.fround;

/** diffusers `beta_schedule` values. `sigmoid` exists only in DDPM. */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid';

/** diffusers `timestep_spacing` values. */
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

/** diffusers `prediction_type` values. */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

/** The schedule fields of a scheduler config (camelCase of diffusers' keys). */
export interface BetaScheduleConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  readonly trainedBetas: readonly number[] | null;
}

/**
 * β_1…β_T as diffusers builds them in float32:
 * - `trained_betas`: the given list rounded to float32;
 * - `linear`: `torch.linspace(β_start, β_end, T)`;
 * - `scaled_linear`: `torch.linspace(√β_start, √β_end, T) ** 2` (the Stable Diffusion schedule);
 * - `squaredcos_cap_v2`: Nichol & Dhariwal 2021 eq. 17, `β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999)` in float64, then float32;
 * - `sigmoid` (DDPM only): `sigmoid(linspace(−6, 6, T))·(β_end − β_start) + β_start`.
 * @throws InvalidOptionError for an unknown schedule or trained betas of the wrong length.
 */
export function makeBetas(config: BetaScheduleConfig, className: string): Float32Array {
  const T = config.numTrainTimesteps;
  if (config.trainedBetas !== null) {
    if (config.trainedBetas.length !== T) {
      throw new InvalidOptionError({
        option: `${className}.trained_betas`,
        expected: `${T} values (num_train_timesteps)`,
        received: config.trainedBetas,
      });
    }
    return Float32Array.from(config.trainedBetas);
  }
  switch (config.betaSchedule) {
    case 'linear':
      return torchLinspaceFloat32(config.betaStart, config.betaEnd, T);
    case 'scaled_linear':
      return torchLinspaceFloat32(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), T).map((b) => f(b * b));
    case 'squaredcos_cap_v2':
      return betasForAlphaBar(T);
    case 'sigmoid': {
      const x = torchLinspaceFloat32(-6, 6, T);
      const range = f(config.betaEnd - config.betaStart);
      return x.map((v) => f(f(f(1 / (1 + Math.exp(-v))) * range) + f(config.betaStart)));
    }
  }
}

/** Nichol & Dhariwal 2021 eq. 17 with ᾱ(t) = cos²((t/T + 0.008)/1.008 · π/2), β capped at 0.999 (diffusers `betas_for_alpha_bar`). */
export function betasForAlphaBar(numDiffusionTimesteps: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const out = new Float32Array(numDiffusionTimesteps);
  for (let i = 0; i < numDiffusionTimesteps; i++) {
    const t1 = i / numDiffusionTimesteps;
    const t2 = (i + 1) / numDiffusionTimesteps;
    out[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return out;
}

/**
 * Lin et al. 2023, Algorithm 1: rescales β so that ᾱ_T = 0 (zero terminal SNR), in float32 as diffusers'
 * `rescale_zero_terminal_snr`: √ᾱ ← (√ᾱ − √ᾱ_T)·√ᾱ_0/(√ᾱ_0 − √ᾱ_T), α_t = ᾱ_t/ᾱ_{t−1}, β = 1 − α.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const alphasCumprod = cumprodFloat32(betas.map((b) => f(1 - b)));
  const sqrtBar = alphasCumprod.map((a) => f(Math.sqrt(a)));
  const first = sqrtBar[0] as number;
  const last = sqrtBar[sqrtBar.length - 1] as number;
  const scale = f(first / f(first - last));
  const bar = sqrtBar.map((s) => {
    const shifted = f(f(s - last) * scale);
    return f(shifted * shifted);
  });
  const out = new Float32Array(betas.length);
  for (let i = 0; i < bar.length; i++) {
    const alpha = i === 0 ? (bar[0] as number) : f((bar[i] as number) / (bar[i - 1] as number));
    out[i] = f(1 - alpha);
  }
  return out;
}

/** α_t = 1 − β_t and ᾱ_t = ∏ α_s (float32, as `1.0 - betas` and `torch.cumprod`). */
export function alphasCumprodFromBetas(betas: Float32Array): Float32Array {
  return cumprodFloat32(betas.map((b) => f(1 - b)));
}

/**
 * Inference timesteps (descending, integers) for DDIM/DDPM `set_timesteps`:
 * - `linspace`: `round(linspace(0, T−1, n))` reversed;
 * - `leading`: `arange(n)·(T // n)` reversed, plus `steps_offset`;
 * - `trailing`: `round(arange(T, 0, −T/n)) − 1`.
 */
export function integerTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  const timesteps = spacedTimesteps(spacing, T, n, stepsOffset).map(roundHalfEven);
  const outside = timesteps.find((t) => t < 0 || t > T - 1);
  if (outside !== undefined) {
    // e.g. leading spacing with steps_offset 1 and n = T: the first timestep would be T, past the schedule
    throw new InvalidOptionError({
      option: 'numInferenceSteps',
      expected: `a step count whose ${spacing} timesteps (steps_offset ${stepsOffset}) stay in [0, ${T - 1}]`,
      received: n,
      message: `Invalid option \`numInferenceSteps\`: ${n} steps with timestep_spacing "${spacing}" and steps_offset ${stepsOffset} give timestep ${outside}, outside [0, ${T - 1}]; use fewer steps.`,
    });
  }
  return timesteps;
}

/**
 * The spacing before rounding/casting, descending (float64). `leading` is already integral; `linspace` and
 * `trailing` are rounded by the caller (half to even, as `np.round`).
 */
export function spacedTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return Array.from(numpyLinspace(0, T - 1, n)).reverse();
    case 'leading': {
      const ratio = Math.floor(T / n);
      return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return Array.from(numpyArange(T, 0, -T / n), (v) => roundHalfEven(v) - 1);
  }
}

/** @throws InvalidOptionError unless 1 ≤ n ≤ T is an integer. */
export function checkInferenceSteps(numInferenceSteps: number, numTrainTimesteps: number, className: string): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new InvalidOptionError({
      option: `${className}.setTimesteps(numInferenceSteps)`,
      expected: `an integer in [1, ${numTrainTimesteps}] (num_train_timesteps)`,
      received: numInferenceSteps,
    });
  }
}
